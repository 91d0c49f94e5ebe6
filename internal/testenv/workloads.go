package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// RunWorkloadStatus stands in for the controllers and kubelets the test
// control plane does not have: until ctx is done it writes, to every
// Deployment, StatefulSet and DaemonSet whose status does not describe its
// current generation, the status their controllers would write once every
// replica is running and ready (a DaemonSet as on a one-node cluster), and
// marks every Job that has not finished as having completed successfully
// (as a chart's hook Jobs do). Without it such workloads never become healthy on
// this control plane (nothing runs Pods); with it, health waits behave as on
// a cluster whose workloads start. Use it only with the test control plane:
// on a real cluster it would lie.
func RunWorkloadStatus(ctx context.Context, cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := markWorkloads(ctx, cs); err != nil && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func markWorkloads(ctx context.Context, cs kubernetes.Interface) error {
	deps, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list deployments: %w", err)
	}
	for i := range deps.Items {
		d := &deps.Items[i]
		if d.Status.ObservedGeneration == d.Generation {
			continue
		}
		n := replicas(d.Spec.Replicas)
		now := metav1.Now()
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation,
			Replicas:           n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", LastUpdateTime: now, LastTransitionTime: now},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", LastUpdateTime: now, LastTransitionTime: now},
			},
		}
		// A conflict means it changed meanwhile: the next round sees it.
		_, _ = cs.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	}
	sets, err := cs.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list statefulsets: %w", err)
	}
	for i := range sets.Items {
		s := &sets.Items[i]
		if s.Status.ObservedGeneration == s.Generation {
			continue
		}
		n := replicas(s.Spec.Replicas)
		rev := fmt.Sprintf("%s-%d", s.Name, s.Generation)
		s.Status = appsv1.StatefulSetStatus{
			ObservedGeneration: s.Generation,
			Replicas:           n, ReadyReplicas: n, CurrentReplicas: n, UpdatedReplicas: n, AvailableReplicas: n,
			CurrentRevision: rev, UpdateRevision: rev,
		}
		_, _ = cs.AppsV1().StatefulSets(s.Namespace).UpdateStatus(ctx, s, metav1.UpdateOptions{})
	}
	daemons, err := cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list daemonsets: %w", err)
	}
	for i := range daemons.Items {
		d := &daemons.Items[i]
		if d.Status.ObservedGeneration == d.Generation {
			continue
		}
		d.Status = appsv1.DaemonSetStatus{
			ObservedGeneration:     d.Generation,
			DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, UpdatedNumberScheduled: 1,
			NumberReady: 1, NumberAvailable: 1,
		}
		_, _ = cs.AppsV1().DaemonSets(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	}
	return completeJobs(ctx, cs)
}

// completeJobs marks every Job that has not finished as succeeded, with
// the status the Job controller writes: start and completion times, the
// completions counted, SuccessCriteriaMet and then Complete.
func completeJobs(ctx context.Context, cs kubernetes.Interface) error {
	jobs, err := cs.BatchV1().Jobs("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list jobs: %w", err)
	}
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if finished(j) || (j.Spec.Suspend != nil && *j.Spec.Suspend) {
			continue
		}
		now := metav1.Now()
		start := now
		if j.Status.StartTime != nil {
			start = *j.Status.StartTime
		}
		j.Status = batchv1.JobStatus{
			StartTime:               &start,
			CompletionTime:          &now,
			Succeeded:               replicas(j.Spec.Completions),
			Ready:                   ptr(int32(0)),
			Terminating:             ptr(int32(0)),
			UncountedTerminatedPods: &batchv1.UncountedTerminatedPods{},
			Conditions: []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastProbeTime: now, LastTransitionTime: now},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: "CompletionsReached", LastProbeTime: now, LastTransitionTime: now},
			},
		}
		if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion {
			j.Status.CompletedIndexes = indexes(replicas(j.Spec.Completions))
		}
		if _, err := cs.BatchV1().Jobs(j.Namespace).UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return fmt.Errorf("job %s/%s: %w", j.Namespace, j.Name, err)
		}
	}
	return nil
}

func finished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// indexes is "0-(n-1)", the completed indexes of an Indexed Job.
func indexes(n int32) string {
	if n <= 1 {
		return "0"
	}
	return fmt.Sprintf("0-%d", n-1)
}

func ptr[T any](v T) *T { return &v }

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// RunWorkloads runs RunWorkloadStatus against e until the test ends: the
// control plane for a test whose workloads must become healthy.
func (e *Environment) RunWorkloads(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		_ = RunWorkloadStatus(ctx, e.Config)
	}()
}
