// Package config reads the operator's HCL configuration file into a checked
// Config, reporting every problem with its file:line:column.
package config
