// Package deploy holds mediaflow's Prometheus configuration and alert
// rules, its Grafana provisioning and dashboard, and the tests that keep
// them, docker-compose.yml and the Dockerfile valid.
//
// Its Go code only reads those files: DashboardQueries lists the
// dashboard's PromQL so an end-to-end test can run every query against a
// real Prometheus.
package deploy
