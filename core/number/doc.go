// Package number turns a phone number as an application typed it into its
// E.164 form with the country, calling code, operator and line type that
// routing decides on.
package number
