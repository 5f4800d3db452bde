package devstack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"
)

// waitReady blocks until the stack is usable by an application: the frontend
// answers, the namespace is known to the frontend's namespace registry, its
// retention matches, and the requested search attributes are registered and
// visible to the registry.
func (s *Stack) waitReady(ctx context.Context, o Options) error {
	var c client.Client
	err := retry(ctx, func(ctx context.Context) error {
		var err error
		// Dial performs a GetSystemInfo round trip, so success means the
		// frontend is serving.
		c, err = client.DialContext(ctx, client.Options{
			HostPort:  s.frontendAddr,
			Namespace: s.namespace,
			Logger:    sdklog.NewStructuredLogger(o.Logger),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("devstack: wait for frontend %s: %w", s.frontendAddr, err)
	}
	defer c.Close()

	ns, err := waitNamespace(ctx, c.WorkflowService(), s.namespace)
	if err != nil {
		return err
	}
	if err := ensureRetention(ctx, c.WorkflowService(), ns, o.Retention); err != nil {
		return err
	}
	return registerSearchAttributes(ctx, c.WorkflowService(), c.OperatorService(), s.namespace, o.SearchAttributes)
}

// waitNamespace waits until the frontend's in-memory namespace registry knows
// the namespace. WeakConsistency makes DescribeNamespace answer from that
// registry (the one StartWorkflowExecution & co. consult) instead of the
// database.
func waitNamespace(ctx context.Context, wf workflowservice.WorkflowServiceClient, name string) (*workflowservice.DescribeNamespaceResponse, error) {
	var resp *workflowservice.DescribeNamespaceResponse
	err := retry(ctx, func(ctx context.Context) error {
		var err error
		resp, err = wf.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{
			Namespace:       name,
			WeakConsistency: true,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("devstack: wait for namespace %q: %w", name, err)
	}
	return resp, nil
}

// ensureRetention updates the retention of a namespace that already existed
// with another value (the namespace is only created with the configured
// retention the first time).
func ensureRetention(ctx context.Context, wf workflowservice.WorkflowServiceClient, ns *workflowservice.DescribeNamespaceResponse, want time.Duration) error {
	if ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() == want {
		return nil
	}
	_, err := wf.UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: ns.GetNamespaceInfo().GetName(),
		Config: &namespacepb.NamespaceConfig{
			WorkflowExecutionRetentionTtl: durationpb.New(want),
		},
	})
	if err != nil {
		return fmt.Errorf("devstack: update namespace retention: %w", err)
	}
	return nil
}

// registerSearchAttributes adds the missing custom search attributes through
// the operator service and waits until they are usable.
//
// With SQL visibility a custom search attribute is an alias, stored on the
// namespace, for one of the pre-allocated columns (Keyword01, ...).
// AddSearchAttributes therefore updates the namespace, and the servers pick
// the change up on their next namespace-registry refresh (every 2s by
// default). Until then starting a workflow with the attribute fails with
// "search attribute ... is not defined", so the wait below covers both the
// database (ListSearchAttributes) and the registry (weakly consistent
// DescribeNamespace).
func registerSearchAttributes(
	ctx context.Context,
	wf workflowservice.WorkflowServiceClient,
	op operatorservice.OperatorServiceClient,
	namespace string,
	want map[string]enums.IndexedValueType,
) error {
	if len(want) == 0 {
		return nil
	}
	list, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("devstack: list search attributes: %w", err)
	}
	missing := map[string]enums.IndexedValueType{}
	for name, typ := range want {
		if sys, ok := list.GetSystemAttributes()[name]; ok {
			return fmt.Errorf("devstack: search attribute %q is a system attribute (%s)", name, sys)
		}
		got, ok := list.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = typ
		case got != typ:
			// Changing the type would need remove + add, which orphans the
			// values stored in the old column; refuse instead of guessing.
			return fmt.Errorf("devstack: search attribute %q is already registered as %s, want %s", name, got, typ)
		}
	}
	if len(missing) > 0 {
		_, err := op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace:        namespace,
			SearchAttributes: missing,
		})
		// For SQL visibility the server skips existing names silently, but a
		// concurrent registration (or another visibility store) may report
		// AlreadyExists; either way the verification below decides.
		var exists *serviceerror.AlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("devstack: add search attributes %v: %w", slices.Sorted(maps.Keys(missing)), err)
		}
	}

	err = retry(ctx, func(ctx context.Context) error {
		list, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
		if err != nil {
			return err
		}
		ns, err := wf.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{
			Namespace:       namespace,
			WeakConsistency: true,
		})
		if err != nil {
			return err
		}
		aliases := map[string]bool{}
		for _, alias := range ns.GetConfig().GetCustomSearchAttributeAliases() {
			aliases[alias] = true
		}
		for name, typ := range want {
			if got, ok := list.GetCustomAttributes()[name]; !ok || got != typ {
				return fmt.Errorf("search attribute %q not listed yet", name)
			}
			if !aliases[name] {
				return fmt.Errorf("search attribute %q not in namespace registry yet", name)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("devstack: verify search attributes: %w", err)
	}
	return nil
}

// retry calls fn until it succeeds or ctx is done, with a short capped
// backoff. Each attempt gets its own timeout so a hung call cannot eat the
// whole budget.
func retry(ctx context.Context, fn func(context.Context) error) error {
	const attemptTimeout = 10 * time.Second
	backoff := 50 * time.Millisecond
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := fn(attemptCtx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}
