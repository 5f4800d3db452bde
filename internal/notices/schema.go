package notices

import (
	"slices"
	"strconv"
	"strings"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

// The schema of a catalog: every message id, the placeholders it may and must use, and the
// keywords it must contain. Message ids are stable: a county's overrides will name them, so
// an id is never reused for a different text, and a text whose meaning changes gets a new id.

// Placeholders of notice, confirmation and reply texts: fields of templateData.
const (
	phName         = "Name"         // the voter's first and last name
	phFirstName    = "FirstName"    // the voter's first name (texts: short, and kinder on a lock screen)
	phJurisdiction = "Jurisdiction" // the county office's name
	phReason       = "Reason"       // a challenge's or rejection's reason, as the county gave it
	phDeadline     = "Deadline"     // a cure deadline, formatted by date.long or date.short
	phHelpText     = "HelpText"     // how to reach the county office
	phLink         = "Link"         // an email confirmation's link
	phDay          = "Day"
	phMonth        = "Month"
	phYear         = "Year"
	phWas          = "Was" // a correction: the status posted in error, as a clause (status.was.*)
	phNow          = "Now" // a correction: the right status, as a clause (status.now.*)
)

// Keywords a text must contain, each group satisfied by any of its words: carriers and
// Twilio act on the English STOP; HELP and YES also have their Spanish forms
// (apiserver/twilio_sms.go's keywords).
var (
	kwStop = []string{"STOP"}
	kwHelp = []string{"HELP", "AYUDA"}
	kwYes  = []string{"YES", "SI", "SÍ"}
)

// rule is what one message id must satisfy.
type rule struct {
	allowed  []string   // placeholders it may use
	required []string   // placeholders it must use
	oneOf    []string   // placeholders of which it must use at least one
	keywords [][]string // keyword groups it must contain
	optional bool       // a catalog may leave it out
	sms      bool       // a text message: it must fit the catalog's segments (checked by tests)
	extra    int        // segments it may take beyond the catalog's (a correction's)
}

// Portal texts are the page's, keyed "portal.<key>": each catalog has the reference's keys,
// with the reference's {placeholders}, and no markup but <strong>.
const portalPrefix = "portal."

// metadata keys of a catalog's [catalog] table.
const (
	metaLanguage        = "catalog.language"
	metaName            = "catalog.name"
	metaEnglishName     = "catalog.english_name"
	metaReview          = "catalog.review"
	metaSMSSegments     = "catalog.sms_segments"
	metaSpeechUnit      = "catalog.speech_unit"
	metaSpeechPerMinute = "catalog.speech_per_minute"
)

// Review states of a catalog.
const (
	ReviewApproved = "approved"            // a county election office has reviewed the texts
	ReviewNeeded   = "needs county review" // written or machine-translated, not yet reviewed
)

// Speech units a catalog's speaking rate counts.
const (
	SpeechWords      = "word"      // words between spaces (English, Spanish, Vietnamese, Tagalog)
	SpeechCharacters = "character" // characters (Chinese, and Korean syllable blocks)
)

// noticeStatuses are the statuses voters hear about (ballot.Status.Notifies).
var noticeStatuses = func() []ballot.Status {
	var out []ballot.Status
	for _, s := range ballot.Statuses {
		if s.Notifies() {
			out = append(out, s)
		}
	}
	return out
}()

// schema maps every message id but the portal's to its rule.
var schema = func() map[string]rule {
	noticeText := []string{phName, phFirstName, phJurisdiction, phReason, phDeadline}
	m := map[string]rule{
		"date.long":          {allowed: []string{phDay, phMonth, phYear}, required: []string{phDay, phMonth, phYear}},
		"date.short":         {allowed: []string{phDay, phMonth, phYear}, required: []string{phDay, phMonth}},
		"notice.no_reason":   {},
		"notice.no_deadline": {},
		"sms.footer":         {keywords: [][]string{kwStop}},
		"confirm.sms": {allowed: []string{phFirstName, phJurisdiction}, required: []string{phFirstName, phJurisdiction},
			keywords: [][]string{kwYes, kwHelp, kwStop}, sms: true},
		"confirm.email.subject": {allowed: []string{phJurisdiction}},
		"confirm.email.body": {allowed: []string{phName, phFirstName, phJurisdiction, phLink},
			required: []string{phName, phJurisdiction, phLink}},
		"reply.help": {allowed: []string{phJurisdiction, phHelpText}, required: []string{phJurisdiction, phHelpText},
			keywords: [][]string{kwStop}, sms: true},
		"reply.confirmed": {allowed: []string{phJurisdiction}, required: []string{phJurisdiction}, keywords: [][]string{kwStop}, sms: true},
		"reply.other":     {allowed: []string{phJurisdiction}, required: []string{phJurisdiction}, keywords: [][]string{kwStop}, sms: true},
		"reply.pending": {allowed: []string{phJurisdiction}, required: []string{phJurisdiction},
			keywords: [][]string{kwYes, kwStop}, sms: true},
		"reply.unknown": {keywords: [][]string{kwStop}, sms: true},
		"call.repeat":   {},
	}
	// A text may have a shorter wording, id + "_short", sent when the text would not fit the
	// catalog's segments (long names, the footer): see catalogSet.fit.
	for _, id := range sortedKeys(m) {
		if r := m[id]; r.sms {
			r.optional = true
			m[id+shortSuffix] = r
		}
	}
	for month := 1; month <= 12; month++ {
		m[monthID(month)] = rule{}
	}
	// The email's frame, the unsubscribe page and a call's weekdays (html.go, speech.go,
	// apiserver/unsubscribe.go).
	m["email.questions"] = rule{}
	m["email.write_to"] = rule{}
	m["email.sent_by"] = rule{allowed: []string{phJurisdiction, phName}, required: []string{phJurisdiction, phName}}
	m["email.preferences"] = rule{}
	m["email.stop"] = rule{allowed: []string{phName}, required: []string{phName}}
	for _, id := range UnsubscribeIDs {
		m[id] = rule{}
	}
	for day := range 7 {
		m[weekdayID(day)] = rule{}
	}
	for _, s := range noticeStatuses {
		needs := []string{phJurisdiction}
		if s == ballot.StatusChallenged {
			needs = append(needs, phReason, phDeadline)
		}
		if s == ballot.StatusRejected {
			needs = append(needs, phReason)
		}
		// The short text may leave out the reason and the deadline, never the voter or the county.
		short := []string{phJurisdiction}
		m[noticeID(s, "subject")] = rule{allowed: []string{phFirstName, phJurisdiction}}
		m[noticeID(s, "email")] = rule{allowed: noticeText, required: append([]string{phName}, needs...)}
		m[noticeID(s, "speech")] = rule{allowed: noticeText, required: append([]string{phName}, needs...), optional: true}
		m[noticeID(s, "sms")] = rule{allowed: noticeText, required: needs, oneOf: []string{phName, phFirstName}, sms: true}
		m[noticeID(s, "sms")+shortSuffix] = rule{allowed: noticeText, required: short, oneOf: []string{phName, phFirstName},
			optional: true, sms: true}
	}
	// Notices of the envelope in the mail and reminders (NoticeKinds): about the ballot's
	// status, with the county always; a reminder also says its deadline.
	for _, kind := range NoticeKinds {
		needs := []string{phJurisdiction}
		if kind == KindReturnReminder || kind == KindCureReminder {
			needs = append(needs, phDeadline)
		}
		id := func(part string) string { return "notice." + kind + "." + part }
		m[id("subject")] = rule{allowed: []string{phFirstName, phJurisdiction}}
		m[id("email")] = rule{allowed: noticeText, required: append([]string{phName}, needs...)}
		m[id("speech")] = rule{allowed: noticeText, required: append([]string{phName}, needs...), optional: true}
		m[id("sms")] = rule{allowed: noticeText, required: needs, oneOf: []string{phName, phFirstName}, sms: true}
		m[id("sms")+shortSuffix] = rule{allowed: noticeText, required: []string{phJurisdiction},
			oneOf: []string{phName, phFirstName}, optional: true, sms: true}
	}
	// A correction: "Earlier we told you that <was>. That was a mistake: <now>." The clauses
	// are messages of their own, one per status (status.was.*, status.now.*), so that each
	// language words them whole. A correction may take one segment more than other texts: it
	// is rare, and it must be understood.
	correction := append(slices.Clone(noticeText), phWas, phNow)
	cid := func(part string) string { return "notice." + KindCorrection + "." + part }
	m[cid("subject")] = rule{allowed: []string{phFirstName, phJurisdiction}}
	m[cid("email")] = rule{allowed: correction, required: []string{phName, phJurisdiction, phWas, phNow}}
	m[cid("speech")] = rule{allowed: correction, required: []string{phName, phJurisdiction, phWas, phNow}, optional: true}
	m[cid("sms")] = rule{allowed: correction, required: []string{phJurisdiction, phWas, phNow},
		oneOf: []string{phName, phFirstName}, sms: true, extra: CorrectionExtraSegments}
	m[cid("sms")+shortSuffix] = rule{allowed: correction, required: []string{phJurisdiction, phNow},
		oneOf: []string{phName, phFirstName}, optional: true, sms: true, extra: CorrectionExtraSegments}
	for _, s := range noticeStatuses {
		m[statusWasID(s)] = rule{}
		m[statusNowID(s)] = rule{allowed: []string{phDeadline}}
		if s == ballot.StatusChallenged {
			m[statusNowID(s)] = rule{allowed: []string{phDeadline}, required: []string{phDeadline}}
		}
	}
	m[statusNowID("")] = rule{}
	return m
}()

// CorrectionExtraSegments is how many segments a correction's text may take beyond the
// catalog's sms_segments.
const CorrectionExtraSegments = 1

func statusWasID(s ballot.Status) string { return "status.was." + string(s) }

func statusNowID(s ballot.Status) string {
	if s == "" {
		return "status.now.none"
	}
	return "status.now." + string(s)
}

// CorrectionKey names the texts of a correction (the notice key a delivery records): was is
// the status posted in error, now the right one ("" for none).
func CorrectionKey(was, now ballot.Status) string {
	if now == "" {
		return KindCorrection + "/" + string(was) + "/none"
	}
	return KindCorrection + "/" + string(was) + "/" + string(now)
}

// CorrectionOf reads a CorrectionKey: the status posted in error and the right one.
func CorrectionOf(key string) (was, now ballot.Status, ok bool) { return parseCorrectionKey(key) }

// parseCorrectionKey reads a CorrectionKey.
func parseCorrectionKey(key string) (was, now ballot.Status, ok bool) {
	rest, found := strings.CutPrefix(key, KindCorrection+"/")
	if !found {
		return "", "", false
	}
	w, n, found := strings.Cut(rest, "/")
	if !found {
		return "", "", false
	}
	was, okWas := ballot.ParseStatus(w)
	if n == "none" {
		return was, "", okWas && was.Notifies()
	}
	now, okNow := ballot.ParseStatus(n)
	return was, now, okWas && okNow && was.Notifies() && now.Notifies()
}

// Notice kinds besides a status: what the workflow plans about a ballot besides its moves
// (activities.Notice.Kind). Each is a table notice.<kind> in every catalog.
const (
	KindMailOutbound   = "mail_outbound"   // USPS scanned the ballot on its way to the voter
	KindMailReturn     = "mail_return"     // USPS scanned the ballot on its way back
	KindReturnReminder = "reminder_return" // the ballot is not back yet; Deadline: election day
	KindCureReminder   = "reminder_cure"   // the challenge is not cured yet; Deadline: the cure deadline
	// KindCorrection is a correction: its texts are named by CorrectionKey, never by the kind
	// alone.
	KindCorrection = "correction"
)

// NoticeKinds lists the kinds.
var NoticeKinds = []string{KindMailOutbound, KindMailReturn, KindReturnReminder, KindCureReminder}

// shortSuffix names a text's shorter wording: notice.challenged.sms_short.
const shortSuffix = "_short"

func noticeID(s ballot.Status, part string) string { return "notice." + string(s) + "." + part }

func monthID(month int) string { return "date.month." + strconv.Itoa(month) }

// weekdayID names a weekday a call says, from Sunday (0).
func weekdayID(day int) string { return "speech.weekday." + strconv.Itoa(day) }
