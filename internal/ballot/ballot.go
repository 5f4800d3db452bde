// Package ballot is the home of ballotflow's domain words and of the validators of the
// values voters and counties give it. It depends on nothing but the standard library, so
// every layer (the API, the roll import, the activities) can use the one definition.
//
// Today it holds the phone-number rules (phone.go): which strings are phone numbers at all,
// and which numbers ballotflow will text or call.
package ballot

// Channels a voter can be reached on.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
	ChannelVoice = "voice"
)
