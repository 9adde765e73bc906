package models

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/loupehq/loupe"
)

// Limits of outbound requests.
const (
	MaxRedirects = 3        // redirects followed, each to an allowed origin
	MaxBodyBytes = 16 << 20 // the largest answer read from a model
)

// ErrBlocked is matched (errors.Is) by every refusal of the guard.
var ErrBlocked = errors.New("blocked by the outbound URL guard")

// BlockedError is the guard's refusal of a URL, a redirect or an address.
type BlockedError struct{ Reason string }

// Error implements the error interface.
func (e *BlockedError) Error() string { return "blocked: " + e.Reason }

// Is makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

func blocked(format string, args ...any) error {
	return &BlockedError{Reason: fmt.Sprintf(format, args...)}
}

// Resolver looks up the addresses of a host name. Tests inject one; nil
// means the system resolver.
type Resolver func(ctx context.Context, host string) ([]netip.Addr, error)

// Guard keeps Loupe's outbound requests to the origins the server's admin
// allowed. See the package documentation for the rule.
type Guard struct {
	origins map[string]bool // "scheme://host:port", canonical
	hosts   map[string]bool // "host:port", canonical, for the dialer
	list    []string        // as the admin wrote them, for messages
	resolve Resolver
}

// NewGuard parses the allowlist: origins written scheme://host[:port]
// (http or https; no path, user or query). A literal IP in a range that
// can never be reached (link-local, metadata, unspecified, multicast,
// broadcast) or a numeric host in a form other than a.b.c.d is refused.
// It returns EINVALID naming the bad entry.
func NewGuard(allow []string, resolve Resolver) (*Guard, error) {
	if resolve == nil {
		resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	g := &Guard{origins: map[string]bool{}, hosts: map[string]bool{}, resolve: resolve}
	for i, raw := range allow {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		o, err := parseOrigin(raw)
		if err != nil {
			return nil, loupe.FieldErrorf(fmt.Sprintf("allow[%d]", i), "allowed origin %q: %s", raw, err)
		}
		g.origins[o.String()] = true
		g.hosts[o.hostPort()] = true
		g.list = append(g.list, raw)
	}
	return g, nil
}

// Allowed returns the origins the guard allows, as written.
func (g *Guard) Allowed() []string { return append([]string(nil), g.list...) }

// Check returns a *BlockedError unless the URL is http(s) on an allowed
// origin. It makes no connection.
func (g *Guard) Check(u *url.URL) error {
	o, err := originOf(u)
	if err != nil {
		return blocked("%s: %s", redact(u), err)
	}
	if !g.origins[o.String()] {
		return blocked("%s is not an allowed origin; the server's admin allows model URLs by origin (scheme://host:port)", o)
	}
	return nil
}

// CheckURL is Check over a URL in text.
func (g *Guard) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return blocked("%q is not a URL", raw)
	}
	return g.Check(u)
}

// Client returns an HTTP client that goes through the guard: the origin is
// checked before a request leaves, every resolved address is checked at
// connect time, redirects are followed only to allowed origins (at most
// MaxRedirects), and no proxy from the environment is used.
func (g *Guard) Client() *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	tr := &http.Transport{
		Proxy: nil, // a proxy would resolve and connect on our behalf, past the checks
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return g.dial(ctx, dialer, network, addr)
		},
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: &checkedTransport{g: g, next: tr},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return blocked("more than %d redirects", MaxRedirects)
			}
			if err := g.Check(req.URL); err != nil {
				return fmt.Errorf("redirect refused: %w", err)
			}
			return nil
		},
	}
}

// checkedTransport checks every request's origin before it is sent, so a
// client built by Client is safe even when a caller forgets Check.
type checkedTransport struct {
	g    *Guard
	next *http.Transport
}

func (t *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.g.Check(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}

// CloseIdleConnections closes kept-alive connections (and their
// goroutines).
func (t *checkedTransport) CloseIdleConnections() { t.next.CloseIdleConnections() }

// dial resolves the host itself, checks every address, and connects to a
// checked address: the name is never resolved again between the check and
// the connection, so DNS rebinding cannot slip past.
func (g *Guard) dial(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, blocked("bad address %q", addr)
	}
	h := canonicalHost(host)
	if !g.hosts[net.JoinHostPort(h, port)] {
		return nil, blocked("no allowed origin is on %s", net.JoinHostPort(h, port))
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(h); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = g.resolve(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", h, err)
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("resolve %s: no address", h)
		}
	}
	// One banned address refuses the name: a name that points at the
	// metadata service is not one to trust with the others.
	for _, ip := range ips {
		if why := bannedIP(ip); why != "" {
			return nil, blocked("%s resolves to %s, %s, which is never allowed", h, ip, why)
		}
	}
	var firstErr error
	for _, ip := range ips {
		p, _ := strconv.Atoi(port)
		c, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(p)).String())
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// control checks the address a socket is about to connect to: the last
// word, whatever resolved it.
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return blocked("bad address %q", address)
	}
	if why := bannedIP(ap.Addr()); why != "" {
		return blocked("connecting to %s, %s, is never allowed", ap.Addr(), why)
	}
	return nil
}

// Ranges no outbound request may reach, whatever the allowlist says.
var bannedPrefixes = []struct {
	p   netip.Prefix
	why string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (this-network) address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address (cloud metadata lives here)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address"},
	{netip.MustParsePrefix("100.100.100.200/32"), "a cloud metadata address"},
	{netip.MustParsePrefix("192.0.0.192/32"), "a cloud metadata address"},
	{netip.MustParsePrefix("::/128"), "the unspecified address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "a cloud metadata address"},
}

var (
	nat64    = netip.MustParsePrefix("64:ff9b::/96")
	sixToF   = netip.MustParsePrefix("2002::/16")
	v4compat = netip.MustParsePrefix("::/96")
)

// bannedIP says why an address may never be reached, or "" when it may
// (subject to the allowlist). IPv4 addresses carried in IPv6 (mapped,
// compatible, NAT64, 6to4) are checked as the IPv4 address they carry.
func bannedIP(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case v4compat.Contains(ip) && ip != netip.IPv6Loopback() && ip != netip.IPv6Unspecified():
			return bannedIP(netip.AddrFrom4([4]byte(b[12:16])))
		case nat64.Contains(ip):
			return bannedIP(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToF.Contains(ip):
			return bannedIP(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	if !ip.IsValid() {
		return "an invalid address"
	}
	for _, b := range bannedPrefixes {
		if b.p.Contains(ip) {
			return b.why
		}
	}
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return "a link-local, multicast or unspecified address"
	}
	return ""
}

// origin is a canonical scheme://host:port.
type origin struct{ scheme, host, port string }

func (o origin) hostPort() string { return net.JoinHostPort(o.host, o.port) }

func (o origin) String() string { return o.scheme + "://" + o.hostPort() }

// parseOrigin reads an allowlist entry.
func parseOrigin(raw string) (origin, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return origin{}, errors.New("not a URL; write scheme://host[:port]")
	}
	if u.User != nil {
		return origin{}, errors.New("an allowed origin takes no user or password")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return origin{}, errors.New("an allowed origin is scheme://host[:port], with no path or query")
	}
	o, err := originOf(u)
	if err != nil {
		return origin{}, err
	}
	if ip, err := netip.ParseAddr(o.host); err == nil {
		if why := bannedIP(ip); why != "" {
			return origin{}, fmt.Errorf("%s is %s, which is never allowed", ip, why)
		}
	}
	return o, nil
}

// originOf canonicalises a URL's origin: lower-case scheme and host, the
// scheme's default port filled in, IPv4-mapped IPv6 unwrapped.
func originOf(u *url.URL) (origin, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return origin{}, fmt.Errorf("only http and https URLs are allowed, not %q", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return origin{}, errors.New("the URL has no host")
	}
	if strings.Contains(host, "%") {
		return origin{}, errors.New("IPv6 zones are not allowed")
	}
	host = canonicalHost(host)
	if _, err := netip.ParseAddr(host); err != nil && numericHost(host) {
		return origin{}, fmt.Errorf("host %q is a number, not an address; write an IPv4 address as a.b.c.d", u.Hostname())
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return origin{}, fmt.Errorf("port %q is not a port", port)
	}
	return origin{scheme: scheme, host: host, port: port}, nil
}

// canonicalHost lower-cases a host, drops a trailing dot and writes an IP
// address in its canonical form (IPv4-mapped IPv6 as IPv4).
func canonicalHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().String()
	}
	return h
}

var numericLabel = regexp.MustCompile(`^(0x[0-9a-f]*|[0-9]+)$`)

// numericHost reports whether a host is made only of numbers (decimal,
// octal or hex), such as 2130706433, 0x7f.1 or 0177.0.0.1: forms some
// resolvers read as an IPv4 address and others as a name.
func numericHost(h string) bool {
	for _, l := range strings.Split(h, ".") {
		if !numericLabel.MatchString(l) {
			return false
		}
	}
	return true
}

// redact writes a URL without its password.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Redacted()
}

// StatusError is a model's answer with a status other than 2xx. It never
// holds the body of the answer.
type StatusError struct {
	Code int
}

// Error implements the error interface.
func (e *StatusError) Error() string {
	return fmt.Sprintf("the model answered HTTP %d %s", e.Code, http.StatusText(e.Code))
}

// ReadBody reads a response body up to max bytes; a longer body is an
// error, and nothing of the body is ever put in an error.
func ReadBody(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("the answer is larger than %d bytes", max)
	}
	return b, nil
}
