// Command testplugin is a provider plugin whose behaviour the sdk tests steer
// through message texts and hook paths; it is built against the public sdk
// API only, like any external plugin.
package main
