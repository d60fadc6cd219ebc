// Package seed is where a warehouse's initial inventory comes from: a
// Source yields pallet specs, which the server receives into an empty
// engine. Synthetic reproduces the original demo's 2,000 pallets; File
// loads a real inventory export (JSON or CSV), which is where an ERP feed
// plugs in.
package seed
