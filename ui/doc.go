// Package ui is the pipelines page: a read-mostly web view of the
// pipelines the HTTP API serves, mounted by the worker under /ui/ on
// API_ADDR. Pages are rendered on the server (html/template) from the
// records tasks.Client answers, which are already redacted the way the
// JSON API shows them; a small script, served as a file, refreshes the
// live part of a page while something on it runs and stops while the tab
// is hidden. Templates, script and style are embedded: nothing is built or
// fetched at run time, and no CDN is involved.
//
// Routes (every one but login and the static files needs a session):
//
//	GET  /ui/                          pipelines, newest first (?state=, ?q=key or id, ?cursor=)
//	GET  /ui/pipelines/{id}            one pipeline: timeline, media, post, cleanup, webhook
//	POST /ui/pipelines/{id}/cancel     cancel (CSRF token), then back to the pipeline
//	GET  /ui/login, POST /ui/login     log in with one of API_TOKENS
//	POST /ui/logout                    end the session (CSRF token)
//	GET  /ui/static/{file}             script, style, icon
//
// Decisions taken where the issue was silent:
//
//   - Sessions are stateless: the cookie carries an expiry and a nonce,
//     signed with an HMAC key derived from the token that logged in, and
//     names that token only by another HMAC of it. Every replica accepts
//     every other's cookies and a restart keeps people logged in; removing
//     the token from API_TOKENS ends its sessions at once, and the others'
//     stay. Logging out clears the cookie in the browser; a copy of it
//     would stay valid until it expires (Config.SessionTTL, 12 h), which is
//     why the cookie is HttpOnly and never leaves this path.
//   - The CSRF token is an HMAC of the session's nonce: no server state,
//     and a token from one session is useless in another. Forms are also
//     refused when the browser says (Sec-Fetch-Site) another site sent
//     them, which covers the login form too.
//   - The cookie is Secure when the request came over TLS, directly or
//     through a proxy that sets X-Forwarded-Proto: https; the worker itself
//     serves plain HTTP.
//   - A search matches an id exactly or an idempotency key exactly (ids are
//     derived from keys, so both are a single read); there is no substring
//     search, which the store has no index for.
//   - Paging goes forward with the API's cursors and back to the newest
//     page; a cursor cannot be walked backwards.
//   - The JSON API under /v1/ keeps bearer tokens only: the session cookie
//     is scoped to /ui/ and the API never reads it.
package ui
