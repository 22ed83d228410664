/* A small multi-file C program that the README's first command builds through distcc. */
#include <stdio.h>
#include "greet.h"
#include "sum.h"

int main(void)
{
    greet("distcc-rs");
    printf("sum of 1..100 = %ld\n", sum_to(100));
    return 0;
}
