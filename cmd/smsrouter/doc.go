// Command smsrouter is the one smsrouter binary: it serves the API and
// supervises provider plugins (serve), runs built-in plugins when the host
// launches it as one (plugin serve), checks plugin binaries (plugin check),
// manages API keys (keys) and validates configuration (config validate).
package main
