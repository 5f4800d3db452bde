// Package prefs tells a voter's running ballot workflows that the voter's channels or contact
// hours changed, so that they reload them and re-plan the notices still waiting. The portal,
// the provider webhooks and the delivery activities (a refused address turns off a
// household's channel) change preferences in PostgreSQL first, then call Notify.
package prefs

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/ballotflow/ballotflow/internal/store"
	"github.com/ballotflow/ballotflow/internal/workflowclient"
)

// Reasons callers pass to Notify; they appear in the signal payload, visible in Temporal UI.
const (
	ReasonPortal      = "portal"
	ReasonSMSKeyword  = "sms-keyword"
	ReasonEmailBounce = "email-bounce"
	ReasonEmailOptOut = "email-opt-out" // a spam report or an unsubscribe link
	ReasonSMSBounce   = "sms-bounce"
)

// Notify signals preferences-changed to every ballot workflow of the voter with internal id
// voterRef. Ballots whose workflow has already completed are skipped. It tries every ballot
// and returns the errors of those it could not signal, joined.
//
// Notify is a hint, not the source of truth: activities read the voter's subscriptions at
// send time, so an opt-out is honoured even when a signal is lost; the signal makes a
// workflow re-plan notices that wait (a newly confirmed channel, new contact hours) at once.
func Notify(ctx context.Context, tc client.Client, st *store.Store, voterRef int64, reason string) error {
	ballots, err := st.BallotListByVoter(ctx, voterRef)
	if err != nil {
		return fmt.Errorf("notify voter #%d: %w", voterRef, err)
	}
	wc := workflowclient.New(tc)
	var errs []error
	for _, b := range ballots {
		if err := wc.PreferencesChanged(ctx, b.ElectionID, b.Key, reason); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
