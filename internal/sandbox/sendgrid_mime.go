package sandbox

import (
	"bytes"
	"fmt"
	"maps"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"
)

// What an inbox would receive: the sandbox turns an accepted v3 mail/send request into the
// RFC 5322 message SendGrid would deliver, so that tests read an email as a mail client does
// (headers, content types, both parts) instead of trusting the JSON they sent.

// sendGridReservedHeaders are the headers SendGrid refuses in "headers": it sets them itself.
var sendGridReservedHeaders = []string{"x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
	"content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc"}

// validateHeaders mirrors SendGrid's 400 for custom headers it will not send: reserved
// names, names that are not header names, values that would break the header block.
func validateHeaders(field string, headers map[string]string) []sendGridError {
	var errs []sendGridError
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		value := headers[name]
		switch {
		case slices.Contains(sendGridReservedHeaders, strings.ToLower(name)):
			errs = append(errs, sendGridError{Field: &field,
				Message: fmt.Sprintf("The %q header is reserved and cannot be set in headers.", name)})
		case !headerName(name):
			errs = append(errs, sendGridError{Field: &field, Message: "Header names must be printable ASCII without spaces or colons."})
		case strings.ContainsAny(value, "\r\n\x00"):
			errs = append(errs, sendGridError{Field: &field, Message: "Header values must be a single line."})
		}
	}
	return errs
}

func headerName(name string) bool {
	if name == "" || len(name) > 200 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// mergeHeaders returns the message's headers with a personalization's over them, as SendGrid
// merges them; nil when there are none.
func mergeHeaders(message, personal map[string]string) map[string]string {
	if len(message)+len(personal) == 0 {
		return nil
	}
	out := make(map[string]string, len(message)+len(personal))
	maps.Copy(out, message)
	maps.Copy(out, personal)
	return out
}

// deliveredMail writes the message one recipient's inbox would receive.
func deliveredMail(m *sgMail, to sgAddress, subject, text, html string, headers map[string]string, messageID string,
	now time.Time) string {
	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	address := func(a sgAddress) string { return (&mail.Address{Name: a.Name, Address: a.Email}).String() }
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+messageID+"@sandbox.sendgrid.local>")
	header("From", address(*m.From))
	header("To", address(to))
	if m.ReplyTo != nil && m.ReplyTo.Email != "" {
		header("Reply-To", address(*m.ReplyTo))
	}
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		header(textproto.CanonicalMIMEHeaderKey(name), mime.QEncoding.Encode("utf-8", headers[name]))
	}
	header("MIME-Version", "1.0")

	part := func(w *bytes.Buffer, value string) {
		qp := quotedprintable.NewWriter(w)
		_, _ = qp.Write([]byte(value))
		_ = qp.Close()
	}
	partHeader := func(contentType string) textproto.MIMEHeader {
		return textproto.MIMEHeader{"Content-Type": {contentType + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"}}
	}
	switch {
	case text != "" && html != "":
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
		b.WriteString("\r\n")
		for _, p := range []struct{ contentType, value string }{{"text/plain", text}, {"text/html", html}} {
			w, _ := mw.CreatePart(partHeader(p.contentType))
			var encoded bytes.Buffer
			part(&encoded, p.value)
			_, _ = w.Write(encoded.Bytes())
		}
		_ = mw.Close()
		b.Write(body.Bytes())
	default:
		contentType, value := "text/plain", text
		if text == "" {
			contentType, value = "text/html", html
		}
		h := partHeader(contentType)
		header("Content-Type", h.Get("Content-Type"))
		header("Content-Transfer-Encoding", h.Get("Content-Transfer-Encoding"))
		b.WriteString("\r\n")
		part(&b, value)
	}
	return b.String()
}
