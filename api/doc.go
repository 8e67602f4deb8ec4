// Package api is mediaflow's HTTP enqueue API: a thin, authenticated layer
// over tasks.Client, so that programs in any language can hand mediaflow
// work and follow it. openapi.yaml beside this file is its contract, and a
// test keeps the two in step.
//
// Routes (every one but the spec needs a bearer token):
//
//	POST /v1/pipelines              publish request JSON → 202 + record (200 on an idempotent replay)
//	GET  /v1/pipelines              ?state=&limit=&cursor= → a page of records, newest first
//	GET  /v1/pipelines/{id}         the record
//	POST /v1/pipelines/{id}/cancel  202 + record; 409 once finished or published
//	GET  /v1/openapi.yaml           the OpenAPI 3.1 description (no token needed)
//
// Decisions taken where the issue was silent:
//
//   - A repeated request under a used idempotency key answers 200 with the
//     pipeline's current record and "Idempotent-Replayed: true", not 202:
//     nothing new was accepted. The key comes from the Idempotency-Key header
//     or the body's "key"; both given and different is a 400.
//   - The spec is served without a token: it holds no data, and client
//     generators can fetch it. Everything else, unknown paths included,
//     answers 401 before 404 or 405, so a stranger learns nothing of the
//     routes beyond what the spec says.
//   - Tokens shorter than MinTokenLength are refused at construction: a
//     token that can be guessed is an open API by another name.
//   - Requests are rate limited per token (each token its own bucket), and
//     a request is only counted once its token is known to be good, so a
//     stranger cannot spend a client's budget.
//   - Failed authentications (no token, or a wrong one) are counted per
//     client address by Config.Guard (package authlimit), together with
//     the pages' failed logins: past the limit every request from that
//     address is a 429 (auth-throttled) with Retry-After, a right token
//     included, so guessing gains nothing from the answers. Refused
//     requests get no access-log line of their own; the guard writes a
//     summary.
//   - The list endpoint is strict like the body: unknown query parameters,
//     repeated ones and a limit outside 1..100 are 400s rather than silently
//     ignored or clamped, since a mistyped filter would otherwise list
//     everything.
//   - A cancel is asynchronous (its steps withdraw the post and delete the
//     media), so it answers 202; cancelling twice answers 202 again.
//   - If the record was stored but enqueuing its first steps failed, the
//     pipeline still exists and the sweep enqueues its steps later; the
//     API answers as for success (and logs the failure) so that a client
//     without a key does not retry into a duplicate.
//   - GET routes answer HEAD too, as net/http does for every GET route.
//   - A request body must arrive within DefaultBodyTimeout (30 s), or the
//     answer is 408 and the connection is closed: the worker's servers
//     bound only the headers' arrival, and a client trickling its body
//     would otherwise hold a connection for ever.
//   - The Idempotency-Key header may be a bare key or a quoted structured
//     field string, as the IETF draft defines it.
//
// Problem types (RFC 9457 "type" members) are URNs under urn:mediaflow:problem:
// and listed in openapi.yaml.
package api
