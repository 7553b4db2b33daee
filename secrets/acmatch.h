/* sp_ac: many byte strings matched at once (Aho-Corasick).
 *
 * A builder takes the strings, each with an id of the caller's; the
 * automaton it makes is immutable and may be shared. A caller walks it
 * one byte at a time from state 0 (the root): sp_ac_step gives the next
 * state, sp_ac_depth how many of the last bytes are a prefix of some
 * string (the longest such suffix: nothing can match starting earlier),
 * and sp_ac_match and sp_ac_match_next list the strings that end at
 * that byte, longest first. The root's transitions are a dense table
 * (sp_ac_root), so that the common case (a byte that starts nothing)
 * costs one lookup; other states keep their transitions sorted.
 *
 * The strings may be secrets: the builder wipes its copies, and
 * sp_ac_free wipes the automaton's transition bytes. Memory: about 24
 * bytes per byte of all strings. */
#ifndef SP_ACMATCH_H
#define SP_ACMATCH_H

#include <stddef.h>
#include <stdint.h>

#define SP_AC_NONE	UINT32_MAX

struct sp_ac_build;
struct sp_ac;

/* A new empty builder in *ret; -ENOMEM. */
int sp_ac_build_new(struct sp_ac_build **ret);
/* Frees b, wiping its strings; NULL is accepted. */
void sp_ac_build_free(struct sp_ac_build *b);
/* Adds s[0..len) with id. Returns 0; 1 when the same string was added
 * before (this one is skipped: the first id stays); -EINVAL for an empty
 * string; -ENOMEM. */
int sp_ac_build_add(struct sp_ac_build *b, const void *s, size_t len,
    uint32_t id);
/* Makes the automaton of the strings added (none is fine) into *ret and
 * frees b, whatever the result. Returns 0 or -ENOMEM. */
int sp_ac_build_finish(struct sp_ac_build *b, struct sp_ac **ret);

/* Frees a, wiping it; NULL is accepted. */
void sp_ac_free(struct sp_ac *a);

/* The longest string's length. */
size_t sp_ac_max_len(const struct sp_ac *a);
/* The root's transitions: 0 for a byte that starts no string. */
const uint32_t *sp_ac_root(const struct sp_ac *a);
/* The state after byte c in state. */
uint32_t sp_ac_step(const struct sp_ac *a, uint32_t state, uint8_t c);
/* The same, with the first match of the new state in *ret_match (one
 * call where a walk needs both). */
uint32_t sp_ac_step_match(const struct sp_ac *a, uint32_t state, uint8_t c,
    uint32_t *ret_match);
/* How many of the last bytes state stands for (0 at the root). */
uint32_t sp_ac_depth(const struct sp_ac *a, uint32_t state);
/* The first string that ends in state, as a match handle, or
 * SP_AC_NONE; sp_ac_match_next gives the next one. */
uint32_t sp_ac_match(const struct sp_ac *a, uint32_t state);
uint32_t sp_ac_match_next(const struct sp_ac *a, uint32_t m);
/* A match's string: its id and its length. */
uint32_t sp_ac_match_id(const struct sp_ac *a, uint32_t m);
uint32_t sp_ac_match_len(const struct sp_ac *a, uint32_t m);

#endif
