// Package grafana holds MetricNames, the metric names a PromQL query
// selects; its tests check that the provisioned dashboards of this folder
// are valid and that every query names a metric the SXP servers export.
package grafana
