/* sg_strv: the NULL-free string arrays the netpolicy listings return
 * (np_tap_list, np_nft_list_taps) and their sandboxes' allow_net copies. */
#ifndef SG_STRV_H
#define SG_STRV_H

#include <stddef.h>

/* Frees v[0..n) and v; NULL is accepted. */
void sg_strv_free(char **v, size_t n);
/* Sorts v[0..n) by strcmp. */
void sg_strv_sort(char **v, size_t n);

#endif
