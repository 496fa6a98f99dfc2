/* The version of the wire protocols (docs/protocol.md "Versions"), defined once. A header of
 * its own: the plugin, which links nothing of ours and no JSON library, says it in its hello. */
#pragma once

/* Both sockets speak this version: the events.sock hello and the control hello carry it. It
 * changes only with an incompatible change: a request, reply, event or record that a peer of
 * the previous version would misread (a field removed, renamed or given another meaning or
 * type, a command dropped). Adding commands, arguments, fields, events and error codes does
 * not change it: peers ignore what they do not know. */
#define NA_PROTOCOL 1
