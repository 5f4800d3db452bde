package apiserver

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ballotflow/ballotflow/internal/store"
)

// What the portal lets one client, one person and everyone do, and why the numbers are what
// they are. All counters live in PostgreSQL (store.RateLimitCount), keyed by keyed hashes,
// so that every API replica shares them and no name, ZIP or address is stored.

// PortalLimits caps what the portal does for strangers. Zero fields take
// DefaultPortalLimits.
type PortalLimits struct {
	// PerClient: failed lookups (no sign-in) from one client address, an IPv6 client's
	// whole /64 (one subscriber's network). Successful sign-ins are not counted, so a
	// library, a campus or a carrier's NAT full of voters can all sign in.
	PerClient       int
	PerClientWindow time.Duration
	// PerIdentity: lookups of one identity (folded names, date of birth and ZIP), signed in
	// or not: bounds the sessions one person's details can open.
	PerIdentity       int
	PerIdentityWindow time.Duration
	// PerNameZIP: failed lookups of one folded first and last name in one ZIP, across every
	// date of birth and every client: what stops guessing a known voter's date of birth.
	PerNameZIP       int
	PerNameZIPWindow time.Duration
	// GlobalFailures: failed lookups of everyone together. Beyond it the lookup refuses
	// everyone (429) until the window ends: a circuit breaker against a botnet enumerating
	// the roll from many addresses.
	GlobalFailures       int
	GlobalFailuresWindow time.Duration
	// SavesPerSession: preference saves of one session; beyond it a save is refused whole.
	SavesPerSession       int
	SavesPerSessionWindow time.Duration
	// Confirmations caps the confirmation texts and emails saves ask for.
	Confirmations store.ConfirmationLimits
}

// DefaultPortalLimits are numbers an election office can defend:
//   - 30 failed lookups in 10 minutes from one address: a busy library's typos, not a
//     script's guesses;
//   - 5 lookups of one identity in 10 minutes;
//   - 10 failed lookups of one name and ZIP a day: a voter who mistypes their date of birth
//     ten times is asked to wait or call, and a known voter's date of birth (one in some
//     30,000 possible, about 365 when the birth year is public) takes months to guess;
//   - 300 failed lookups a minute for everyone: about ten times the failures of a large
//     county's busiest election-night minute (raise it for a statewide portal);
//   - 20 saves of preferences in 10 minutes per session.
var DefaultPortalLimits = PortalLimits{
	PerClient: 30, PerClientWindow: 10 * time.Minute,
	PerIdentity: 5, PerIdentityWindow: 10 * time.Minute,
	PerNameZIP: 10, PerNameZIPWindow: 24 * time.Hour,
	GlobalFailures: 300, GlobalFailuresWindow: time.Minute,
	SavesPerSession: 20, SavesPerSessionWindow: 10 * time.Minute,
	Confirmations: store.DefaultConfirmationLimits,
}

func (h *handlers) portalLimits() PortalLimits {
	l, d := h.cfg.PortalLimits, DefaultPortalLimits
	pick := func(n *int, w *time.Duration, dn int, dw time.Duration) {
		if *n <= 0 || *w <= 0 {
			*n, *w = dn, dw
		}
	}
	pick(&l.PerClient, &l.PerClientWindow, d.PerClient, d.PerClientWindow)
	pick(&l.PerIdentity, &l.PerIdentityWindow, d.PerIdentity, d.PerIdentityWindow)
	pick(&l.PerNameZIP, &l.PerNameZIPWindow, d.PerNameZIP, d.PerNameZIPWindow)
	pick(&l.GlobalFailures, &l.GlobalFailuresWindow, d.GlobalFailures, d.GlobalFailuresWindow)
	pick(&l.SavesPerSession, &l.SavesPerSessionWindow, d.SavesPerSession, d.SavesPerSessionWindow)
	return l
}

// clientKey names the client a request comes from for rate limits: its IPv4 address, or
// the /64 of its IPv6 address (a home or phone gets a whole /64, and picks any address in
// it at will).
func clientKey(c *gin.Context) string { return clientPrefix(c, 64) }

// networkKey names the network a client is in: the /48 of an IPv6 address (one site or
// tunnel-broker allocation: 65,536 /64s, enough to trip the global breaker alone), or the
// IPv4 address itself.
func networkKey(c *gin.Context) string { return clientPrefix(c, 48) }

func clientPrefix(c *gin.Context, ipv6Bits int) string {
	ip := c.ClientIP()
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		if p, err := addr.Prefix(ipv6Bits); err == nil {
			return p.String()
		}
	}
	return addr.String()
}

// networkShare is how many clients' failed lookups one IPv6 /48 may add up to.
const networkShare = 4

// lookupGuard holds what one API process remembers about lookups: when the circuit breaker
// opened, so that while it is open a flood of lookups is refused without touching
// PostgreSQL. The decision itself is always PostgreSQL's, shared by every replica.
type lookupGuard struct {
	breakerUntil atomic.Int64 // unix nanoseconds
}

// breakerOpen answers 429 while this process knows the breaker is open.
func (g *lookupGuard) breakerOpen(c *gin.Context) bool {
	left := time.Until(time.Unix(0, g.breakerUntil.Load()))
	if left <= 0 {
		return false
	}
	lookupsPaused(c, left)
	return true
}

func (g *lookupGuard) openBreaker(wait time.Duration) {
	g.breakerUntil.Store(time.Now().Add(wait).UnixNano())
}

// lookupLimits are the limits one lookup counts against, in this order.
const (
	limitClient = iota
	limitNetwork
	limitIdentity
	limitNameZIP
	limitGlobal
)

func lookupLimits(l PortalLimits, client, network, first, last, dob, zip string) []store.RateLimit {
	nameZIP := strings.Join([]string{store.Fold(first), store.Fold(last), zip}, "\x00")
	return []store.RateLimit{
		limitClient:   {Key: "portal-client\x00" + client, Max: l.PerClient, Window: l.PerClientWindow},
		limitNetwork:  {Key: "portal-network\x00" + network, Max: networkShare * l.PerClient, Window: l.PerClientWindow},
		limitIdentity: {Key: "portal-identity\x00" + nameZIP + "\x00" + dob, Max: l.PerIdentity, Window: l.PerIdentityWindow},
		limitNameZIP:  {Key: "portal-name-zip\x00" + nameZIP, Max: l.PerNameZIP, Window: l.PerNameZIPWindow},
		limitGlobal:   {Key: "portal-failures", Max: l.GlobalFailures, Window: l.GlobalFailuresWindow, Shared: true},
	}
}

// lookupsPaused answers 429 while the circuit breaker is open.
func lookupsPaused(c *gin.Context, wait time.Duration) {
	seconds := int((wait + time.Second - 1) / time.Second)
	c.Header("Retry-After", fmt.Sprint(seconds))
	abort(c, http.StatusTooManyRequests, "lookups_paused",
		fmt.Sprintf("So many lookups are failing right now that the lookup is paused for everyone, to protect voters' records. "+
			"Please try again in %s. Your county election office can also help you by phone.", humanWait(seconds)), "")
}

// rateLimited counts one hit against each limit and, when one is exceeded (429) or cannot
// be counted (503), answers and returns true.
func (h *handlers) rateLimited(c *gin.Context, limits ...store.RateLimit) bool {
	wait, err := h.cfg.Store.RateLimitHit(c.Request.Context(), limits...)
	if err != nil {
		h.unavailable(c, "portal rate limit", err)
		return true
	}
	if wait > 0 {
		tooManyAttempts(c, wait)
		return true
	}
	return false
}

// tooManyAttempts answers 429, saying in Retry-After and in words how long to wait.
func tooManyAttempts(c *gin.Context, wait time.Duration) {
	seconds := int((wait + time.Second - 1) / time.Second)
	c.Header("Retry-After", fmt.Sprint(seconds))
	msg := fmt.Sprintf("Too many attempts. Please wait %s and try again.", humanWait(seconds))
	if seconds > 3600 {
		msg += " If you need help sooner, call your county election office."
	}
	abort(c, http.StatusTooManyRequests, "rate_limited", msg, "")
}

func humanWait(seconds int) string {
	switch {
	case seconds <= 60:
		return "a minute"
	case seconds <= 90*60:
		return fmt.Sprintf("%d minutes", (seconds+59)/60)
	}
	return fmt.Sprintf("about %d hours", (seconds+1800)/3600)
}
