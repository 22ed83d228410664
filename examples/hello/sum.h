#ifndef SUM_H
#define SUM_H
long sum_to(long n);
#endif
