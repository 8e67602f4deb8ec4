package sandbox

import (
	"net/http"
	"strings"
)

// redirectSink is where a redirect fault points when its plan names no
// RedirectTo: any request under it is a client that followed an API
// redirect.
const redirectSink = "/_sandbox/redirected"

// ViolationCredentialsFollowedRedirect is a request that followed a
// redirect fault to its target still carrying X-API-ID or X-API-KEY: on
// the real service the target could be any host.
const ViolationCredentialsFollowedRedirect = "credentials-followed-redirect"

func redirectSinkRoute(r *http.Request) (route, bool) {
	if !strings.HasPrefix(r.URL.Path, redirectSink+"/") {
		return route{}, false
	}
	return route{method: "", template: redirectSink, handle: (*Server).redirected}, true
}

// redirected answers a followed redirect with 421 Misdirected Request, an
// answer no client retries or takes for success, after noting it.
func (s *Server) redirected(x *exchange) reply {
	creds := len(x.r.Header.Values("X-API-ID")) > 0 || len(x.r.Header.Values("X-API-KEY")) > 0
	s.mu.Lock()
	s.counts.redirectsFollowed++
	s.mu.Unlock()
	if creds {
		s.violation(ViolationCredentialsFollowedRedirect, x.r.Method+" "+redirectSink, "")
	}
	return errorReply(http.StatusMisdirectedRequest, "sandbox: this is where a redirect fault pointed; API clients must not follow redirects")
}
