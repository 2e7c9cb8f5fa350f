// Package promconfig holds no code: its tests check the Prometheus scrape
// configuration and alert rules of this folder with promtool (Debian's
// prometheus package, installed by deploy/test).
package promconfig
