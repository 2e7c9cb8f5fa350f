// Package deploytest checks the deployment files (Dockerfile, compose,
// Kubernetes manifests) and runs deploy/run end to end. It has no code of
// its own besides the tests.
package deploytest
