/*
 * stack_modules.h: the transport and socket modules' hooks into the stack's
 * life cycle: created with the stack, flushed after each input/poll (where
 * deferred output such as delayed ACKs due "now" goes out), freed with it.
 */
#ifndef USTACK_STACK_MODULES_H
#define USTACK_STACK_MODULES_H

struct us_stack;

int stack_modules_init(struct us_stack *s);
void stack_modules_flush(struct us_stack *s);
/* Drops every socket and connection; returns what is still accounted as
 * taken (0 unless something leaked). */
unsigned stack_modules_destroy(struct us_stack *s);
/* Frees the modules' own tables. */
void stack_modules_free(struct us_stack *s);

#endif
