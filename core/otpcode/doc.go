// Package otpcode finds the one-time code in a received text message, so a
// number's holder can be told the code without reading the text.
package otpcode
