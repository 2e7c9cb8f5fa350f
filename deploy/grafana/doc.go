// Package grafana holds no code: its tests check that the provisioned
// dashboards of this folder are valid and that every query names a metric
// the SXP servers export.
package grafana
