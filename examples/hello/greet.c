#include <stdio.h>
#include "greet.h"

void greet(const char *who)
{
    printf("hello from a distributed compile, says %s\n", who);
}
