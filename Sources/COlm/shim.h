#ifndef SPIEGEL_COLM_SHIM_H
#define SPIEGEL_COLM_SHIM_H

// libolm's public API for SpiegelOlm: Olm accounts and sessions, the utility (Ed25519
// verification) and Megolm's inbound and outbound group sessions.

#include <olm/olm.h>
#include <olm/inbound_group_session.h>
#include <olm/outbound_group_session.h>

#endif
