package sandbox

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ballotflow/ballotflow/internal/ballot"
)

const (
	twilioAPIVersion = "2010-04-01"
	twilioMaxBody    = 1 << 20
	twilioMaxSMSLen  = 1600 // characters, Twilio's concatenated body limit
	// twilioDateFormat is the RFC 2822 form Twilio uses in its JSON.
	twilioDateFormat = "Mon, 02 Jan 2006 15:04:05 -0700"
)

// e164 matches E.164 numbers as Twilio requires them for 'To'.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// ErrNoInboundURL is returned by InboundSMS when Options.TwilioInboundSMSURL is empty.
var ErrNoInboundURL = errors.New("sandbox: TwilioInboundSMSURL is not configured")

// twilioErrorMessages are Twilio's texts for the codes the sandbox produces.
// %s, where present, is the number, as Twilio really echoes it: clients must
// not copy these messages into logs.
var twilioErrorMessages = map[int]string{
	12100: "Document parse failure",
	20003: "Authenticate",
	20404: "The requested resource was not found",
	20429: "Too Many Requests",
	20500: "Internal Server Error",
	20503: "Service Unavailable",
	21205: "Url parameter is required.",
	21211: "The 'To' number %s is not a valid phone number.",
	21217: "Phone number %s does not appear to be valid",
	21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: %s.",
	21602: "Message body is required.",
	21603: "A 'From' phone number is required.",
	21604: "A 'To' phone number is required.",
	21609: "Invalid StatusCallback URL",
	21610: "Attempt to send to unsubscribed recipient",
	21612: "The 'To' phone number: %s, is not currently reachable using the 'From' phone number via SMS.",
	21614: "'To' number %s is not a valid mobile number",
	21617: "The concatenated message body exceeds the 1600 character limit.",
}

// writeTwilioError writes Twilio's legacy error JSON, which twilio-go decodes
// into *client.TwilioRestError.
func writeTwilioError(w http.ResponseWriter, status, code int, number string) {
	msg := twilioErrorMessages[code]
	if strings.Contains(msg, "%s") {
		msg = fmt.Sprintf(msg, number)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	writeJSON(w, status, map[string]any{
		"code":      code,
		"message":   msg,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
		"status":    status,
	})
}

// twilioAuth checks Basic auth and the account in the path, answering like
// Twilio when they are wrong. It reports whether the request may proceed.
func (s *Server) twilioAuth(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok ||
		subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.TwilioAccountSID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.TwilioAuthToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeTwilioError(w, http.StatusUnauthorized, 20003, "")
		return false
	}
	if r.PathValue("sid") != s.opts.TwilioAccountSID {
		writeTwilioError(w, http.StatusNotFound, 20404, "")
		return false
	}
	return true
}

// parseTwilioForm parses the form-encoded body the SDK sends.
func parseTwilioForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, twilioMaxBody)
	if err := r.ParseForm(); err != nil {
		writeTwilioError(w, http.StatusBadRequest, 20001, "")
		return false
	}
	return true
}

// twilioFault answers a request according to f and reports whether it did;
// DropAfterAccept is handled by the caller after the message is recorded.
// defaultCode is the Permanent code when f.Code is unset.
func (s *Server) twilioFault(w http.ResponseWriter, f *Fault, defaultCode int, to string) bool {
	switch f.Kind {
	case RateLimited:
		s.setRateLimitHeaders(w.Header(), f.Delay)
		writeTwilioError(w, http.StatusTooManyRequests, 20429, "")
	case ServerError:
		status := cmp.Or(f.Code, http.StatusInternalServerError)
		if f.Delay > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(f.Delay), 10))
		}
		code := 20500
		if status == http.StatusServiceUnavailable {
			code = 20503
		}
		writeTwilioError(w, status, code, "")
	case Permanent:
		writeTwilioError(w, http.StatusBadRequest, cmp.Or(f.Code, defaultCode), to)
	default:
		return false
	}
	return true
}

// handleCreateMessage is POST /2010-04-01/Accounts/{sid}/Messages.json.
func (s *Server) handleCreateMessage(w http.ResponseWriter, r *http.Request) {
	if !s.twilioAuth(w, r) || !parseTwilioForm(w, r) {
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	callback := r.PostForm.Get("StatusCallback")
	switch {
	case to == "":
		writeTwilioError(w, http.StatusBadRequest, 21604, "")
		return
	case !e164.MatchString(to):
		writeTwilioError(w, http.StatusBadRequest, 21211, to)
		return
	case from == "" && r.PostForm.Get("MessagingServiceSid") == "":
		writeTwilioError(w, http.StatusBadRequest, 21603, "")
		return
	case !validCallbackURL(callback):
		writeTwilioError(w, http.StatusBadRequest, 21609, "")
		return
	case body == "":
		writeTwilioError(w, http.StatusBadRequest, 21602, "")
		return
	case utf8.RuneCountInString(body) > twilioMaxSMSLen:
		writeTwilioError(w, http.StatusBadRequest, 21617, "")
		return
	}

	w, delay, fault := s.admit(w, ballot.ChannelSMS, []string{to})
	if !sleepCtx(r.Context(), delay) {
		return
	}
	if fault != nil && s.twilioFault(w, fault, 21211, to) {
		return
	}

	if from == "" {
		from = r.PostForm.Get("MessagingServiceSid") // Twilio picks a sender from the service
	}
	now := s.clock()
	sid := "SM" + randomHex(16)
	meta := map[string]string{}
	if callback != "" {
		meta["status_callback"] = callback
	}
	s.record(Message{Channel: ballot.ChannelSMS, ProviderID: sid, From: from, To: to, Text: body, Meta: meta, ReceivedAt: now})
	if callback != "" {
		var ds []delivery
		for _, status := range []string{"sent", "delivered"} {
			ds = append(ds, s.twilioCallback("twilio_sms_status", callback, url.Values{
				"MessageSid":    {sid},
				"SmsSid":        {sid},
				"MessageStatus": {status},
				"SmsStatus":     {status},
				"AccountSid":    {s.opts.TwilioAccountSID},
				"From":          {from},
				"To":            {to},
				"ApiVersion":    {twilioAPIVersion},
			}))
		}
		s.cb.enqueue(ds...)
	}

	if fault != nil && fault.Kind == DropAfterAccept {
		dropConnection(w)
		return
	}
	date := now.UTC().Format(twilioDateFormat)
	uri := fmt.Sprintf("/%s/Accounts/%s/Messages/%s", twilioAPIVersion, s.opts.TwilioAccountSID, sid)
	writeJSON(w, http.StatusCreated, map[string]any{
		"sid":                   sid,
		"account_sid":           s.opts.TwilioAccountSID,
		"api_version":           twilioAPIVersion,
		"body":                  body,
		"date_created":          date,
		"date_updated":          date,
		"date_sent":             nil,
		"direction":             "outbound-api",
		"error_code":            nil,
		"error_message":         nil,
		"from":                  from,
		"to":                    to,
		"messaging_service_sid": nil,
		"num_media":             "0",
		"num_segments":          "1",
		"price":                 nil,
		"price_unit":            "USD",
		"status":                "queued",
		"subresource_uris":      map[string]string{"media": uri + "/Media.json"},
		"uri":                   uri + ".json",
	})
}

// handleCreateCall is POST /2010-04-01/Accounts/{sid}/Calls.json.
func (s *Server) handleCreateCall(w http.ResponseWriter, r *http.Request) {
	if !s.twilioAuth(w, r) || !parseTwilioForm(w, r) {
		return
	}
	to, from := r.PostForm.Get("To"), r.PostForm.Get("From")
	twiml, twimlURL := r.PostForm.Get("Twiml"), r.PostForm.Get("Url")
	callback := r.PostForm.Get("StatusCallback")
	switch {
	case to == "":
		writeTwilioError(w, http.StatusBadRequest, 21604, "")
		return
	case !e164.MatchString(to):
		writeTwilioError(w, http.StatusBadRequest, 21217, to)
		return
	case from == "":
		writeTwilioError(w, http.StatusBadRequest, 21603, "")
		return
	case twiml == "" && twimlURL == "":
		writeTwilioError(w, http.StatusBadRequest, 21205, "")
		return
	case !validCallbackURL(callback):
		writeTwilioError(w, http.StatusBadRequest, 21609, "")
		return
	}
	var spoken string
	if twiml != "" {
		var err error
		if spoken, err = sayText(twiml); err != nil {
			writeTwilioError(w, http.StatusBadRequest, 12100, "")
			return
		}
	}

	w, delay, fault := s.admit(w, ballot.ChannelVoice, []string{to})
	if !sleepCtx(r.Context(), delay) {
		return
	}
	if fault != nil && s.twilioFault(w, fault, 21217, to) {
		return
	}

	now := s.clock()
	sid := "CA" + randomHex(16)
	meta := map[string]string{}
	if twiml != "" {
		meta["twiml"] = twiml
	}
	if twimlURL != "" {
		meta["url"] = twimlURL
	}
	if callback != "" {
		meta["status_callback"] = callback
	}
	s.record(Message{Channel: ballot.ChannelVoice, ProviderID: sid, From: from, To: to, Text: spoken, Meta: meta, ReceivedAt: now})
	if callback != "" {
		var ds []delivery
		for i, status := range []string{"initiated", "ringing", "in-progress", "completed"} {
			params := url.Values{
				"CallSid":        {sid},
				"CallStatus":     {status},
				"AccountSid":     {s.opts.TwilioAccountSID},
				"From":           {from},
				"To":             {to},
				"Direction":      {"outbound-api"},
				"ApiVersion":     {twilioAPIVersion},
				"CallbackSource": {"call-progress-events"},
				"SequenceNumber": {strconv.Itoa(i)},
				"Timestamp":      {now.UTC().Format(twilioDateFormat)},
			}
			if status == "completed" {
				d := strconv.Itoa(speakingSeconds(spoken))
				params["CallDuration"] = []string{d}
				params["Duration"] = []string{d}
			}
			ds = append(ds, s.twilioCallback("twilio_call_status", callback, params))
		}
		s.cb.enqueue(ds...)
	}

	if fault != nil && fault.Kind == DropAfterAccept {
		dropConnection(w)
		return
	}
	date := now.UTC().Format(twilioDateFormat)
	uri := fmt.Sprintf("/%s/Accounts/%s/Calls/%s", twilioAPIVersion, s.opts.TwilioAccountSID, sid)
	writeJSON(w, http.StatusCreated, map[string]any{
		"sid":          sid,
		"account_sid":  s.opts.TwilioAccountSID,
		"api_version":  twilioAPIVersion,
		"date_created": date,
		"date_updated": date,
		"direction":    "outbound-api",
		"from":         from,
		"to":           to,
		"status":       "queued",
		"start_time":   nil,
		"end_time":     nil,
		"duration":     nil,
		"price":        nil,
		"price_unit":   "USD",
		"uri":          uri + ".json",
	})
}

// validCallbackURL accepts an empty StatusCallback or an absolute http(s)
// URL; Twilio rejects anything else up front, and so does the sandbox, so
// that a misconfigured callback base URL shows up in dev, not in production.
func validCallbackURL(u string) bool {
	if u == "" {
		return true
	}
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}

// speakingSeconds is a plausible call duration for the spoken text
// (about 2.5 words per second, at least one second).
func speakingSeconds(text string) int {
	return max(int(math.Ceil(float64(len(strings.Fields(text)))/2.5)), 1)
}

// sayText returns the text of all <Say> elements of a TwiML document,
// including nested ones (<Gather><Say>), joined by spaces.
func sayText(twiml string) (string, error) {
	dec := xml.NewDecoder(strings.NewReader(twiml))
	var (
		parts   []string
		current strings.Builder
		inSay   int
		sawRoot bool
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !sawRoot && t.Name.Local != "Response" {
				return "", fmt.Errorf("root element is <%s>, want <Response>", t.Name.Local)
			}
			sawRoot = true
			if t.Name.Local == "Say" {
				inSay++
			}
		case xml.EndElement:
			if t.Name.Local == "Say" && inSay > 0 {
				if inSay--; inSay == 0 {
					if txt := strings.Join(strings.Fields(current.String()), " "); txt != "" {
						parts = append(parts, txt)
					}
					current.Reset()
				}
			}
		case xml.CharData:
			if inSay > 0 {
				current.Write(t)
			}
		}
	}
	if !sawRoot {
		return "", errors.New("no <Response> element")
	}
	return strings.Join(parts, " "), nil
}

// twilioCallback builds a form-encoded webhook to callbackURL signed with
// X-Twilio-Signature.
func (s *Server) twilioCallback(kind, callbackURL string, params url.Values) delivery {
	return delivery{
		kind:        kind,
		url:         callbackURL,
		contentType: "application/x-www-form-urlencoded",
		header:      http.Header{"X-Twilio-Signature": {twilioSignature(s.opts.TwilioAuthToken, callbackURL, params)}},
		body:        []byte(params.Encode()),
	}
}

// twilioSignature computes X-Twilio-Signature: base64(HMAC-SHA1(token, URL
// followed by every parameter name and value, sorted by name)). Repeated
// names contribute each value, sorted, as Twilio does.
func twilioSignature(token, fullURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		vs := slices.Clone(params[k])
		slices.Sort(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// InboundSMS simulates a voter texting the service: it POSTs a Twilio-signed
// inbound SMS webhook (From, To, Body, MessageSid, ...) to
// Options.TwilioInboundSMSURL and waits for the answer. A non-2xx answer is
// an error. If the answer is TwiML with <Message> replies, each reply is
// "sent" like Twilio would: it appears in the outbox as an SMS from 'to' to
// 'from'.
func (s *Server) InboundSMS(ctx context.Context, from, to, body string) error {
	if s.opts.TwilioInboundSMSURL == "" {
		return ErrNoInboundURL
	}
	sid := "SM" + randomHex(16)
	params := url.Values{
		"MessageSid":    {sid},
		"SmsSid":        {sid},
		"SmsMessageSid": {sid},
		"AccountSid":    {s.opts.TwilioAccountSID},
		"From":          {from},
		"To":            {to},
		"Body":          {body},
		"NumMedia":      {"0"},
		"NumSegments":   {"1"},
		"SmsStatus":     {"received"},
		"ApiVersion":    {twilioAPIVersion},
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.TwilioInboundSMSURL, strings.NewReader(params.Encode()))
	if err != nil {
		return fmt.Errorf("sandbox: inbound SMS request: %s", safeErr(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilioSignature(s.opts.TwilioAuthToken, s.opts.TwilioInboundSMSURL, params))
	resp, err := s.cb.client.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox: inbound SMS webhook: %s", safeErr(err))
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("sandbox: inbound SMS webhook answered HTTP %d", resp.StatusCode)
	}
	s.log.Info("sandbox: inbound SMS delivered", "message_sid", sid)

	replies := twimlReplies(reply)
	now := s.clock()
	msgs := make([]Message, 0, len(replies))
	for _, text := range replies {
		msgs = append(msgs, Message{
			Channel: ballot.ChannelSMS, ProviderID: "SM" + randomHex(16), From: to, To: from, Text: text,
			Meta: map[string]string{"in_reply_to": sid}, ReceivedAt: now,
		})
	}
	s.record(msgs...)
	return nil
}

// twimlReplies returns the texts of <Message> verbs in a TwiML answer
// (<Message>text</Message> or <Message><Body>text</Body></Message>). Anything
// that is not TwiML yields none: an empty 200 is a valid webhook answer.
func twimlReplies(doc []byte) []string {
	var resp struct {
		XMLName  xml.Name `xml:"Response"`
		Messages []struct {
			Text string `xml:",chardata"`
			Body string `xml:"Body"`
		} `xml:"Message"`
	}
	if len(strings.TrimSpace(string(doc))) == 0 || xml.Unmarshal(doc, &resp) != nil {
		return nil
	}
	var out []string
	for _, m := range resp.Messages {
		if t := strings.TrimSpace(cmp.Or(m.Body, m.Text)); t != "" {
			out = append(out, t)
		}
	}
	return out
}
