package devstack_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"

	"github.com/ballotflow/ballotflow/activities"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// The dynamic config docker-compose.yml and `make bench-cluster` give the Temporal server: every
// key is one this server version knows, with a value of its type (the server would only warn and
// go on with its default), and each override takes effect where the comments say.
func TestComposeDynamicConfig(t *testing.T) {
	contents, err := os.ReadFile("../../deploy/temporal/dynamicconfig.yaml")
	require.NoError(t, err)
	loaded := dynamicconfig.LoadYamlFile(contents)
	require.Empty(t, loaded.Errors)
	require.Empty(t, loaded.Warnings, "an unknown key or a value of the wrong type is ignored by the server")

	client := dynamicconfig.StaticClient{}
	for k, v := range loaded.Map {
		client[k] = v
	}
	set := dynamicconfig.NewCollection(client, log.NewNoopLogger())
	defaults := dynamicconfig.NewNoopCollection()

	// A history host runs a few queue tasks of each kind at once, not Temporal's 512.
	for _, s := range []dynamicconfig.GlobalIntSetting{
		dynamicconfig.TimerProcessorSchedulerWorkerCount,
		dynamicconfig.TransferProcessorSchedulerWorkerCount,
		dynamicconfig.VisibilityProcessorSchedulerWorkerCount,
	} {
		require.Less(t, s.Get(set)(), s.Get(defaults)(), s.Key())
		require.Positive(t, s.Get(set)(), s.Key())
	}

	// The delivery queues have one partition, read and write; other queues keep the default.
	for _, q := range []string{activities.EmailTaskQueue, activities.SMSTaskQueue, activities.VoiceTaskQueue} {
		for _, s := range []dynamicconfig.TaskQueueIntConstrainedDefaultSetting{
			dynamicconfig.MatchingNumTaskqueueReadPartitions,
			dynamicconfig.MatchingNumTaskqueueWritePartitions,
		} {
			require.Equal(t, 1, s.Get(set)("default", q, enumspb.TASK_QUEUE_TYPE_ACTIVITY), "%s %s", s.Key(), q)
		}
	}
	require.Equal(t, dynamicconfig.MatchingNumTaskqueueReadPartitions.Get(defaults)("default", contract.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW),
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Get(set)("default", contract.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW))

	require.Equal(t, 255, dynamicconfig.MaxIDLengthLimit.Get(set)())
}
