package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ballotflow/ballotflow/workflows/contract"
)

// What the worker sets up in Temporal at start so that data goes when it should: how long the
// namespace keeps closed workflows, and the daily schedule of the retention purge. Both are
// idempotent, so every worker of a deployment may do it at every start.

// EnsureNamespaceRetention makes the namespace keep closed workflows for retention
// (TEMPORAL_RETENTION), changing it only when it differs. A value the server refuses, or a
// namespace ballotflow may not change (Temporal Cloud manages retention in its own console),
// is an error that says what the namespace keeps now and what to do.
func EnsureNamespaceRetention(ctx context.Context, c client.Client, namespace string, retention time.Duration) error {
	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("read the retention of Temporal namespace %s: %w", namespace, err)
	}
	current := ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
	if current == retention {
		return nil
	}
	_, err = c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(retention)},
	})
	var invalid *serviceerror.InvalidArgument
	var denied *serviceerror.PermissionDenied
	switch {
	case errors.As(err, &invalid):
		return fmt.Errorf("TEMPORAL_RETENTION=%s: the Temporal server refused it for namespace %s (%s); the namespace keeps "+
			"closed workflows %s. Choose a retention the server allows (at least a day on most servers, 1 to 90 days "+
			"on Temporal Cloud)", Days(retention), namespace, invalid.Message, Days(current))
	case errors.As(err, &denied):
		return fmt.Errorf("TEMPORAL_RETENTION=%s: ballotflow may not change the retention of namespace %s (%w); it keeps "+
			"closed workflows %s. Set TEMPORAL_RETENTION=%s, or change the retention where the namespace is managed",
			Days(retention), namespace, denied, Days(current), Days(current))
	case err != nil:
		return fmt.Errorf("set the retention of Temporal namespace %s to %s: %w", namespace, Days(retention), err)
	}
	return nil
}

// Days writes a retention as TEMPORAL_RETENTION reads it: whole days as "90d", anything
// else as a Go duration.
func Days(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// EnsureRetentionSchedule creates the retention schedule (contract.RetentionScheduleID): a
// RetentionPurge workflow every day at `at` after midnight UTC (RETENTION_PURGE_TIME). When
// it exists, its time and action are updated if they differ, and nothing else: a schedule an
// operator paused stays paused.
func EnsureRetentionSchedule(ctx context.Context, c client.Client, at time.Duration) error {
	spec := dailySpec(at)
	action := retentionAction()
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:     contract.RetentionScheduleID,
		Spec:   spec,
		Action: action,
		// A purge still running the next day (a very large election) is not started twice.
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		// A Temporal outage at purge time still runs that day's purge when it ends.
		CatchupWindow: 24 * time.Hour,
		Note:          "created by the ballotflow worker (RETENTION_PURGE_TIME); see the README's Data retention",
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create the retention schedule %s: %w", contract.RetentionScheduleID, err)
	}
	handle := c.ScheduleClient().GetHandle(ctx, contract.RetentionScheduleID)
	err = handle.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			if got, ok := dailyAt(s.Spec); ok && got == at && sameAction(s.Action, action) {
				return nil, temporal.ErrSkipScheduleUpdate
			}
			s.Spec, s.Action = &spec, action
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update the retention schedule %s: %w", contract.RetentionScheduleID, err)
	}
	return nil
}

func retentionAction() *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:        contract.RetentionWorkflowID,
		Workflow:  contract.RetentionWorkflowName,
		Args:      []any{contract.RetentionInput{}},
		TaskQueue: contract.TaskQueue,
	}
}

// dailySpec is every day at `at` after midnight UTC.
func dailySpec(at time.Duration) client.ScheduleSpec {
	return client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{{
		Second: []client.ScheduleRange{{Start: 0}},
		Minute: []client.ScheduleRange{{Start: int(at / time.Minute % 60)}},
		Hour:   []client.ScheduleRange{{Start: int(at / time.Hour)}},
	}}}
}

// dailyAt reads a spec that dailySpec made (as the server gives it back) and says at what
// time of day it runs; ok is false for any other spec.
func dailyAt(spec *client.ScheduleSpec) (at time.Duration, ok bool) {
	if spec == nil || len(spec.Calendars) != 1 || len(spec.Intervals) != 0 || len(spec.CronExpressions) != 0 ||
		len(spec.Skip) != 0 || (spec.TimeZoneName != "" && spec.TimeZoneName != "UTC") || spec.Jitter != 0 ||
		!spec.StartAt.IsZero() || !spec.EndAt.IsZero() {
		return 0, false
	}
	cal := spec.Calendars[0]
	second, okS := single(cal.Second)
	minute, okM := single(cal.Minute)
	hour, okH := single(cal.Hour)
	if !okS || !okM || !okH || second != 0 || len(cal.Year) != 0 ||
		!every(cal.DayOfMonth, 1, 31) || !every(cal.Month, 1, 12) || !every(cal.DayOfWeek, 0, 6) {
		return 0, false
	}
	return time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute, true
}

// single reads a range list of one value.
func single(rs []client.ScheduleRange) (int, bool) {
	if len(rs) != 1 || (rs[0].End != 0 && rs[0].End != rs[0].Start) {
		return 0, false
	}
	return rs[0].Start, true
}

// every reports whether a range list covers lo to hi, one by one.
func every(rs []client.ScheduleRange, lo, hi int) bool {
	return len(rs) == 1 && rs[0].Start == lo && rs[0].End == hi && rs[0].Step <= 1
}

func sameAction(got client.ScheduleAction, want *client.ScheduleWorkflowAction) bool {
	a, ok := got.(*client.ScheduleWorkflowAction)
	return ok && a.ID == want.ID && a.Workflow == want.Workflow && a.TaskQueue == want.TaskQueue
}
