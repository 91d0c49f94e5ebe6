// Package testenv runs a real Kubernetes control plane (kube-apiserver and
// etcd) for gitopskit's tests and examples, without Docker and without
// downloading binaries.
//
// Both servers are built from Go modules by the nested module in
// ./binaries (kube-apiserver from k8s.io/kubernetes, etcd from
// go.etcd.io/etcd/server/v3), once, into a per-user cache directory keyed by
// their versions and by the content of that module. Builds are serialised
// across processes with a file lock, so several test binaries may ask at the
// same time; the cache only ever holds complete builds. Setting
// KUBEBUILDER_ASSETS points it at existing binaries instead.
//
// The control plane has no kubelet, controllers or Pods: RunWorkloadStatus
// stands in for the workload controllers (Deployments, StatefulSets,
// DaemonSets, Jobs), and the API server is started with admission webhooks
// disabled, since nothing could serve them.
//
// Start hands back a running Environment with a *rest.Config and a kubeconfig
// file. Tests use Main and Config, which share one control plane per test
// binary and fail, never skip, when it cannot start, unless the user opts out
// with GITOPSKIT_SKIP_CONTROLPLANE=1.
package testenv
