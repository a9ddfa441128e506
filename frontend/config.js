// Where the HTTP API is. "" is the page's own origin (as `make local` serves it). A front end hosted on another
// origin puts the stack's ApiUrl output here (e.g. "https://abc123.execute-api.eu-central-1.amazonaws.com"), and
// the stack needs that page's origin in its AllowedOrigins parameter (CORS; docs/operations.md).
export const API_URL = "";
