package app

import (
	"context"
	"errors"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/internal/ballot"
	"github.com/ballotflow/ballotflow/internal/mailtrack"
	"github.com/ballotflow/ballotflow/workflows/contract"
)

// scanSignaler hands a ballot's first USPS scan of each direction to its workflow
// (ballot.SignalMailScan), which records it and decides whether the voter hears of it.
type scanSignaler struct{ temporal client.Client }

func (s scanSignaler) NotifyScan(ctx context.Context, n mailtrack.Notice) error {
	err := s.temporal.SignalWorkflow(ctx, ballot.WorkflowID(n.ElectionID, n.BallotKey), "", ballot.SignalMailScan,
		contract.MailScan{Direction: string(n.Direction), ScannedAt: n.ScannedAt.UTC(), Facility: facilityName(n.Facility)})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil // the ballot's tracking is over: nothing to tell
	}
	return err
}

// facilityName is how a scan's place is shown: the facility's name, else its city and state.
// Never a ZIP code, which alone says little to a voter.
func facilityName(f mailtrack.Facility) string {
	if name := strings.TrimSpace(f.Name); name != "" {
		return name
	}
	return strings.Trim(strings.TrimSpace(f.City)+", "+strings.TrimSpace(f.State), ", ")
}
