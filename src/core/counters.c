/*
 * counters.c: names and help texts of the stack's counters.
 */
#include "ustack/counters.h"

#include <stddef.h>

static const char *const names[] = {
#define US_COUNTER_NAME(name, help) #name,
    US_COUNTER_LIST(US_COUNTER_NAME)
#undef US_COUNTER_NAME
};

static const char *const helps[] = {
#define US_COUNTER_HELP(name, help) help,
    US_COUNTER_LIST(US_COUNTER_HELP)
#undef US_COUNTER_HELP
};

const char *us_counter_name(enum us_counter c)
{
    return (unsigned)c < US_C__COUNT ? names[c] : NULL;
}

const char *us_counter_help(enum us_counter c)
{
    return (unsigned)c < US_C__COUNT ? helps[c] : NULL;
}
