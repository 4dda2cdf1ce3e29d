// Package segment counts how many SMS parts a text takes and in which encoding
// (GSM 03.38 7-bit or UCS-2) it must travel.
package segment
