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
//	GET  /ui/                          counts per state, and pipelines newest first (?state= any number,
//	                                   ?profile=, ?label=, ?q= id or text, ?from=, ?to=, ?cursor= or ?before=)
//	GET  /ui/pipelines/{id}            one pipeline: timeline, media, post, cleanup, webhook
//	GET  /ui/pipelines/{id}/cancel     asks to confirm the cancel
//	POST /ui/pipelines/{id}/cancel     cancel (CSRF token), then back to the pipeline
//	GET  /ui/pipelines/{id}/redeliver  asks to confirm a webhook redelivery
//	POST /ui/pipelines/{id}/redeliver  redeliver (CSRF token), then back to the pipeline
//	POST /ui/bulk                      an action on selected rows: asks to confirm, then (confirm=yes) does it
//	GET  /ui/login, POST /ui/login     log in with one of API_TOKENS
//	POST /ui/logout                    end the session (CSRF token)
//	GET  /ui/static/{file}             script, style, icon
//
// Decisions taken where the issue was silent:
//
//   - Sessions are signed cookies: the cookie carries an expiry and a
//     nonce, signed with an HMAC key derived from the token that logged
//     in, and names that token only by another HMAC of it. Every replica
//     accepts every other's cookies and a restart keeps people logged in;
//     removing the token from API_TOKENS ends its sessions at once, and
//     the others' stay. The one server-side state is the list of sessions
//     ended at logout: logging out lists the session in Redis (by a hash
//     of its nonce) for the time it had left, so a copy of the cookie is
//     refused by every replica. When Redis cannot say whether a session
//     ended, the page answers 500 rather than guess.
//   - The CSRF token is an HMAC of the session's nonce: no server state,
//     and a token from one session is useless in another. Forms are also
//     refused when the browser says another site sent them: by
//     Sec-Fetch-Site, or, from browsers that predate it, by an Origin that
//     is not this host ("null" included). That covers the login form too.
//   - Failed logins are counted per client address by Config.Guard, with
//     the API's failed tokens: past the limit the form answers 429 with
//     Retry-After, a right token included. Refused logins get no
//     access-log line of their own; the guard summarizes them.
//   - After the login the browser goes to the "next" page only if it is
//     under /ui/ once its dot segments are resolved (encoded ones too),
//     and is sent there in that resolved form.
//   - The cookie is Secure when the request came over TLS, directly or
//     through a proxy that sets X-Forwarded-Proto: https; the worker itself
//     serves plain HTTP.
//   - Filters are what tasks.Client.Search takes. States and the creation
//     range are read from the indexes, so they are counted exactly (the
//     list says "26–50 of 230"); profile, label and text are checked on
//     each record read, at most tasks.SearchScanLimit per page, and a page
//     cut short says how many it read and links on. A full id in the text
//     box opens that pipeline alone. Dates are whole UTC days.
//   - Paging goes both ways from a place in the index (cursor: older,
//     before: newer), so pages neither repeat nor skip while pipelines are
//     added.
//   - Every action that changes a pipeline asks first, on a page of its
//     own (no script, no dialog): GET shows the question, its form POSTs.
//     A bulk action takes the ids of the rows ticked (at most 100) and
//     reports how many were done, left alone (finished, published) or
//     failed; its redirect carries only numbers.
//   - The script is an enhancement: auto-refresh (a toggle in the header,
//     kept in localStorage), copy buttons and select-all are shown by it,
//     and selections survive a refresh.
//   - The JSON API under /v1/ keeps bearer tokens only: the session cookie
//     is scoped to /ui/ and the API never reads it.
package ui
