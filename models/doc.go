// Package models talks to live models over HTTP: Label Studio ML backends
// (the open-source label-studio-ml-backend protocol) and OpenAI-compatible
// chat completions endpoints. A Runner asks them for predictions ahead of
// the labeler, on request, and tells Label Studio backends about
// annotations; every request goes through a Guard.
//
// # Which addresses a model URL may reach
//
// The server's admin lists the allowed origins, scheme://host[:port]
// (for example "http://ml-backend:9090" or "https://api.openai.example").
// Nothing else is reachable, and the rule is checked three times:
//
//  1. Before a request leaves, its URL must be http or https on an allowed
//     origin (scheme, host and port; the default port filled in). file://,
//     other schemes, other hosts, other ports and numeric hosts in forms
//     other than a.b.c.d (2130706433, 0x7f.1, 0177.0.0.1) are refused
//     without a connection.
//  2. Redirects are followed only to allowed origins, at most MaxRedirects.
//  3. At connect time the dialer resolves the host itself, checks every
//     address, and connects to the checked address (never resolving
//     again, so DNS rebinding cannot swap it); the socket's Control hook
//     checks the address once more.
//
// Some addresses are never reachable, whatever the allowlist says:
// link-local (169.254.0.0/16, fe80::/10, which holds the cloud metadata
// service at 169.254.169.254), other cloud metadata addresses
// (100.100.100.200, 192.0.0.192, fd00:ec2::254), unspecified (0.0.0.0/8,
// ::), multicast, broadcast and reserved (240.0.0.0/4). IPv4 carried in
// IPv6 (::ffff:a.b.c.d, ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) is
// checked as the IPv4 address it carries. A name with one such address
// among its answers is refused altogether. An allowlist entry that is a
// literal never-reachable address is a config error.
//
// Loopback and private addresses (127.0.0.0/8, ::1, 10/8, 172.16/12,
// 192.168/16, fc00::/7) are reachable only through an allowed origin: a
// literal IP the admin listed, or a name the admin listed. Allowing a
// name trusts the admin's DNS for it: "http://ml:9090" accepts whatever
// private or loopback address ml resolves to, but never a link-local or
// metadata address. So http://127.0.0.1 and http://[::1] are refused
// unless listed as such, and a listed public-looking name that redirects
// to localhost is refused at the redirect.
//
// No proxy from the environment is used (a proxy would resolve and connect
// past the checks). Answers are read up to MaxBodyBytes, and no error ever
// quotes an answer's body: a failed call reports the status code and a
// short reason.
//
// # Calls
//
// Each attempt is bounded by the model's timeout; network errors,
// timeouts, 429 and 5xx are retried (up to the model's retries) with
// exponential backoff and jitter, honouring Retry-After up to 30s; other
// 4xx are not retried. A model's concurrency caps its calls in flight
// (prefetch, Predict and webhooks together). One logical call, retries
// included, is recorded once with Store.RecordCall.
//
// # Label Studio ML backends
//
// Loupe speaks as Label Studio does: POST /setup with {project, schema,
// hostname, access_token, model_version, extra_params} (project is
// "ID.created-unix-seconds", extra_params the model's params as a JSON
// text), POST /predict with {tasks, model_version, project, label_config,
// params}, POST /webhook with {action, annotation, task, project}, and
// GET /health. The answer of /predict may be {"results": [...]} or a bare
// list. The model version is the one in the answer, else the one /setup
// returned (asked again after VersionTTL; after a failed /setup the
// backend is not asked again for SetupRetryAfter, so a dead backend is not
// called once per queued item).
//
// Task ids: Label Studio's are integers, so a task's id is the item's
// sequence number in its project (Item.Seq, stable and unique per
// project). Loupe sends one task per /predict call and reads the first
// prediction of the answer as that task's, so no id mapping is needed on
// the way back; the item's data is sent unchanged (no reserved keys). An
// annotation's id in a webhook is 53 bits of a hash of Loupe's id.
// api_key_env of a Label Studio model names a variable holding
// "user:password" for the backend's basic auth.
//
// # OpenAI-compatible endpoints
//
// POST {url}/chat/completions with the system message and the prompt
// (their {{field}} placeholders replaced by the item's field text),
// temperature 0 and a strict json_schema response format built from the
// blocks. The API key comes from the environment variable named by
// api_key_env and is sent only as "Authorization: Bearer"; it is never
// logged or put in an error. The version is the model name and a hash of
// the system message and prompt, so that a new prompt makes new
// predictions.
package models
