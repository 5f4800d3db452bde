package workflows_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/workflows"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// Clients start the workflows with the contract's inputs; the workflows read them as their
// own Start types, which add the state a run continues with. Both must stay one JSON shape,
// or running ballots and imports (and their committed histories) would read their input wrong.
func TestWorkflowsReadTheContractsInputsAsTheyAreSent(t *testing.T) {
	dc := converter.GetDefaultDataConverter()
	in := contract.BallotInput{BallotKey: "bKEY", ElectionID: "e1", State: "CO", County: "denver",
		CanvassEndsAt: time.Date(2026, time.November, 20, 0, 0, 0, 0, time.UTC)}
	sent, err := dc.ToPayload(in)
	require.NoError(t, err)
	var read workflows.BallotStart
	require.NoError(t, dc.FromPayload(sent, &read))
	require.Equal(t, workflows.BallotStart{BallotInput: in}, read)
	again, err := dc.ToPayload(read)
	require.NoError(t, err)
	require.JSONEq(t, string(sent.Data), string(again.Data), "a new ballot's input is the client's, field for field")

	// A continued run's state rides beside the input's fields, not inside them.
	carried, err := json.Marshal(workflows.BallotStart{BallotInput: in, Resume: &workflows.BallotState{Status: ballot.StatusMailed}})
	require.NoError(t, err)
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(carried, &fields))
	require.Contains(t, fields, "BallotKey")
	require.Contains(t, fields, "Resume")

	imp := contract.IngestInput{ImportID: 7}
	sent, err = dc.ToPayload(imp)
	require.NoError(t, err)
	var readImp workflows.IngestStart
	require.NoError(t, dc.FromPayload(sent, &readImp))
	require.Equal(t, workflows.IngestStart{IngestInput: imp}, readImp)
}
