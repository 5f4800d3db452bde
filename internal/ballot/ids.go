package ballot

import "fmt"

// Workflow ids and signal names: what the API, the worker and the workflows agree on. No id
// carries personal data, because workflow ids and search attributes are not encrypted.

// WorkflowID names a ballot's workflow: "ballot/<election_id>/<ballot key>". The ballot key
// is opaque, never a name, date of birth, email or phone.
func WorkflowID(electionID, ballotKey string) string {
	return "ballot/" + electionID + "/" + ballotKey
}

// IngestWorkflowID names the workflow of a bulk import: "import/<id>", the id that
// GET /v1/imports/{id} shows.
func IngestWorkflowID(importID int64) string {
	return fmt.Sprintf("import/%d", importID)
}

// ConfirmWorkflowID names one confirmation of one subscription: the subscription's internal
// number and the confirmation send's.
func ConfirmWorkflowID(subscriptionID int64, sendID int64) string {
	return fmt.Sprintf("confirm/%d/%d", subscriptionID, sendID)
}

// Signals a ballot workflow takes besides one per Status (named as the status).
const (
	// SignalPreferencesChanged tells a ballot that its voter's channels or contact hours
	// changed; the workflow reloads them and re-plans waiting notices.
	SignalPreferencesChanged = "preferences-changed"
	// SignalMailScan hands a ballot the first USPS scan of its envelope in one direction
	// (contract.MailScan); the workflow records it and tells the voter at most once a
	// direction, never against a later status.
	SignalMailScan = "mail-scan"
	// SignalCorrection says that a status event was posted in error and what the ballot's
	// status is (contract.StatusEvent with Corrects set): the workflow returns the ballot to
	// it and tells the voters who heard the wrong status, once.
	SignalCorrection = "correction"
)

// QueryStatus returns a ballot workflow's view of its ballot.
const QueryStatus = "status"
