// Package ballot names ballotflow's domain once: the words every layer uses (statuses and
// their graph, channels, subscription and voter states, languages, default contact hours,
// workflow ids and signal names) and the rules for the values voters and counties give it
// (phone numbers, plain text). It depends on nothing but the standard library, so the API,
// the imports, the workflows and the activities all import it rather than each other.
//
// Glossary of identifiers:
//   - voter_id: the state's registration number, from the roll; unique per state. Never in
//     a workflow id or a search attribute.
//   - voter ref: ballotflow's internal number for a voter row (voters.id).
//   - ballot_id: the county's envelope number, from the county's events; unique per
//     election and county.
//   - ballot key: 100 random bits, opaque, made by ballotflow for each ballot: the only
//     name of a ballot that crosses into Temporal (see WorkflowID).
//   - ballot ref: ballotflow's internal number for a ballot row (ballots.id).
//   - event_id: the county's id of one status event; unique per county.
package ballot

// Channels a voter can be reached on, in the order notices fall back through them.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
	ChannelVoice = "voice"
)

// Channels lists every channel in fallback order.
var Channels = []string{ChannelEmail, ChannelSMS, ChannelVoice}

// IsChannel reports whether s names a channel.
func IsChannel(s string) bool {
	return s == ChannelEmail || s == ChannelSMS || s == ChannelVoice
}

// Subscription states: whether a voter's channel may be used.
const (
	SubscriptionPending  = "pending"   // waiting for the voter's reply YES or the email's link
	SubscriptionActive   = "active"    // notices go out on it
	SubscriptionOptedOut = "opted_out" // the voter (or the county for them) said no
	SubscriptionBounced  = "bounced"   // the provider refused the address for good
)

// Subscription sources: who set a voter's channel up.
const (
	SourceAutoEnrolled   = "auto_enrolled"   // the roll gave an email address
	SourcePortal         = "portal"          // the voter, on the portal
	SourceCountyAssisted = "county_assisted" // an operator, at the voter's request
	SourceMigrated       = "migrated"        // imported from a previous system
)

// Voter registration statuses, as the state's roll gives them.
const (
	VoterActive   = "active"
	VoterInactive = "inactive"
	VoterCanceled = "canceled"
	VoterPending  = "pending"
)

// VoterStatuses lists the registration statuses.
var VoterStatuses = []string{VoterActive, VoterInactive, VoterCanceled, VoterPending}

// Notifiable reports whether a voter with this registration status and confidentiality may
// be sent notices: canceled and inactive registrations get none, confidential voters never.
func Notifiable(status string, confidential bool) bool {
	return !confidential && (status == VoterActive || status == VoterPending)
}

// Default contact hours, in the voter's time zone (the jurisdiction's when the voter chose
// none): texts and calls wait for them.
const (
	DefaultContactStart = "08:00"
	DefaultContactEnd   = "20:00"
)
