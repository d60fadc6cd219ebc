// Package httpapi puts the engine on the network as the contract in
// docs/api.md describes (its v1 and extensions), with Echo: handlers,
// strict request decoding, RFC 9457 problem details, API-key roles,
// Prometheus metrics, the OpenAPI document and an embedded Swagger UI.
//
// It converts at its edge: JSON shapes live here and never leak into the
// engine, and every error becomes an HTTP status in one function
// (statusOf). Bad input is answered 4xx and never reaches the engine.
package httpapi
