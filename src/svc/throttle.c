/*
 * Login throttling. A password guesser is slowed per user name and per peer
 * address: the first few failures in a window cost nothing, each one after
 * doubles the wait before the next attempt (2 s, 4 s, 8 s ... 15 min; the
 * clock counts whole seconds, so 2 s is the shortest wait that always bites). The check
 * runs before the password hash, so a blocked guess costs no argon2 time
 * either. State is per node and in memory: a restart forgets it, which is
 * acceptable for a delay (not a lockout) and keeps the store out of the
 * hot path of an attack.
 */
#include "svc/svc_int.h"

#include <sodium.h>
#include <string.h>

/* A name gets few free failures; an address many more, because a whole
 * terminal's officers may sit behind one proxy. */
#define THROTTLE_FREE_USER 5
#define THROTTLE_FREE_PEER 50
#define THROTTLE_WINDOW_S (15 * 60)
#define THROTTLE_MAX_WAIT_S (15 * 60)

static uint64_t slot_key(const char *kind, const char *v)
{
	uint64_t k;
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, sizeof(k));
	crypto_generichash_update(&st, (const uint8_t *)kind, strlen(kind) + 1);
	crypto_generichash_update(&st, (const uint8_t *)v, strlen(v));
	crypto_generichash_final(&st, (uint8_t *)&k, sizeof(k));
	return k | 1; /* 0 marks a free slot */
}

/* The slot for key, or the stalest one to reuse when the table is full:
 * an attacker who floods it with names evicts old entries, never blocks
 * anyone forever. */
static struct svc_throttle_slot *find(struct svc_throttle *t, uint64_t key, int64_t now)
{
	struct svc_throttle_slot *victim = &t->slot[0];

	for (int i = 0; i < SVC_THROTTLE_SLOTS; i++) {
		struct svc_throttle_slot *e = &t->slot[i];

		if (e->key == key)
			return e;
		if (e->key == 0 || now - e->last > THROTTLE_WINDOW_S) {
			victim = e;
			if (e->key == 0)
				break;
		} else if (victim->key && e->last < victim->last) {
			victim = e;
		}
	}
	memset(victim, 0, sizeof(*victim));
	victim->key = key;
	return victim;
}

static int64_t wait_of(const struct svc_throttle_slot *e, int free_fails, int64_t now)
{
	int64_t wait;
	int extra = e->fails - free_fails;

	if (extra < 0 || now - e->last > THROTTLE_WINDOW_S)
		return 0;
	wait = extra >= 20 ? THROTTLE_MAX_WAIT_S : (int64_t)2 << extra;
	if (wait > THROTTLE_MAX_WAIT_S)
		wait = THROTTLE_MAX_WAIT_S;
	return e->last + wait > now ? e->last + wait - now : 0;
}

int64_t svc_throttle_wait(struct svc_throttle *t, const char *user, const char *remote, int64_t now)
{
	int64_t a, b;

	pthread_mutex_lock(&t->mu);
	a = wait_of(find(t, slot_key("user", user), now), THROTTLE_FREE_USER, now);
	b = wait_of(find(t, slot_key("peer", remote ? remote : ""), now), THROTTLE_FREE_PEER, now);
	pthread_mutex_unlock(&t->mu);
	return a > b ? a : b;
}

void svc_throttle_record(struct svc_throttle *t, const char *user, const char *remote, int64_t now, int ok)
{
	const char *kind[2] = { "user", "peer" };
	const char *val[2] = { user, remote ? remote : "" };

	pthread_mutex_lock(&t->mu);
	for (int i = 0; i < 2; i++) {
		struct svc_throttle_slot *e = find(t, slot_key(kind[i], val[i]), now);

		if (ok) {
			/* a success forgives the name, not the address: one valid
			 * account must not launder a guesser's failures on others */
			if (i == 0)
				e->fails = 0;
			continue;
		}
		if (now - e->last > THROTTLE_WINDOW_S)
			e->fails = 0;
		e->fails++;
		e->last = now;
	}
	pthread_mutex_unlock(&t->mu);
}
