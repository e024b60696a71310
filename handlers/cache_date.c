/* SPDX-License-Identifier: MIT */
/*
 * HTTP-date parsing and formatting (cache_date.h). Each format is matched position by position against its
 * fixed layout, so there is no scanning and no locale: the three layouts differ in length and separators.
 * Calendar arithmetic is proleptic Gregorian (days_from_civil, as in H. Hinnant's date algorithms).
 */
#include "handlers/cache_date.h"

#include <string.h>
#include <strings.h>

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const long_days[7] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct st_tm_t {
    int year, month, day, hour, min, sec; /* month 1..12 */
};

static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* the civil date of day `z` since the epoch */
static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int days_in_month(int y, int m)
{
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return n[m - 1] + (m == 2 && leap);
}

/* `n` digits at `p` as a number, or -1 */
static int digits(const char *p, int n)
{
    int v = 0;
    for (; n != 0; --n, ++p) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

static int month_of(const char *p)
{
    int i;
    for (i = 0; i != 12; ++i)
        if (strncasecmp(p, months[i], 3) == 0)
            return i + 1;
    return -1;
}

static int is_short_day(const char *p)
{
    int i;
    for (i = 0; i != 7; ++i)
        if (strncasecmp(p, days[i], 3) == 0)
            return 1;
    return 0;
}

/* "HH:MM:SS" */
static int parse_time(const char *p, struct st_tm_t *tm)
{
    if (p[2] != ':' || p[5] != ':')
        return -1;
    tm->hour = digits(p, 2), tm->min = digits(p + 3, 2), tm->sec = digits(p + 6, 2);
    return tm->hour < 0 || tm->min < 0 || tm->sec < 0 ? -1 : 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static int parse_imf(const char *p, size_t len, struct st_tm_t *tm)
{
    if (len != 29 || !is_short_day(p) || memcmp(p + 3, ", ", 2) != 0 || p[7] != ' ' || p[11] != ' ' || p[16] != ' ' ||
        strncasecmp(p + 25, " GMT", 4) != 0)
        return -1;
    tm->day = digits(p + 5, 2), tm->month = month_of(p + 8), tm->year = digits(p + 12, 4);
    return parse_time(p + 17, tm);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static int parse_rfc850(const char *p, size_t len, int64_t now, struct st_tm_t *tm)
{
    size_t i, dl = 0;
    int64_t now_year, m, d;
    int yy;
    for (i = 0; i != 7 && dl == 0; ++i)
        if (len > strlen(long_days[i]) && strncasecmp(p, long_days[i], strlen(long_days[i])) == 0)
            dl = strlen(long_days[i]);
    if (dl == 0 || len != dl + 24)
        return -1;
    p += dl;
    if (memcmp(p, ", ", 2) != 0 || p[4] != '-' || p[8] != '-' || p[11] != ' ' || strncasecmp(p + 20, " GMT", 4) != 0)
        return -1;
    tm->day = digits(p + 2, 2), tm->month = month_of(p + 5);
    if ((yy = digits(p + 9, 2)) < 0)
        return -1;
    civil_from_days(floor_div(now, 86400), &now_year, &m, &d);
    tm->year = (int)(now_year / 100 * 100 + yy);
    if (tm->year > now_year + 50)
        tm->year -= 100;
    return parse_time(p + 12, tm);
}

/* "Sun Nov  6 08:49:37 1994" */
static int parse_asctime(const char *p, size_t len, struct st_tm_t *tm)
{
    if (len != 24 || !is_short_day(p) || p[3] != ' ' || p[7] != ' ' || p[10] != ' ' || p[19] != ' ')
        return -1;
    tm->month = month_of(p + 4);
    tm->day = p[8] == ' ' ? digits(p + 9, 1) : digits(p + 8, 2);
    tm->year = digits(p + 20, 4);
    return parse_time(p + 11, tm);
}

int kve_http_date_parse(const char *s, size_t len, int64_t now, int64_t *t)
{
    struct st_tm_t tm = {-1, -1, -1, -1, -1, -1};
    int r;

    while (len != 0 && (*s == ' ' || *s == '\t'))
        ++s, --len;
    while (len != 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        --len;
    if (len == 29)
        r = parse_imf(s, len, &tm);
    else if (len == 24)
        r = parse_asctime(s, len, &tm);
    else
        r = parse_rfc850(s, len, now, &tm);
    if (r != 0 || tm.year < 0 || tm.month < 0 || tm.day < 1 || tm.day > days_in_month(tm.year, tm.month) || tm.hour > 23 ||
        tm.min > 59 || tm.sec > 60)
        return -1;
    *t = days_from_civil(tm.year, tm.month, tm.day) * 86400 + tm.hour * 3600 + tm.min * 60 + tm.sec;
    return 0;
}

static void put_digits(char *p, int64_t v, int n)
{
    while (n-- != 0)
        p[n] = (char)('0' + v % 10), v /= 10;
}

void kve_http_date_format(int64_t t, char buf[KVE_HTTP_DATE_LEN + 1])
{
    int64_t z, secs, y, m, d;
    int wday;

    t = t < -62167219200 ? -62167219200 : t > 253402300799 ? 253402300799 : t; /* years 0..9999: four digits */
    z = floor_div(t, 86400), secs = t - z * 86400;
    wday = (int)((z % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    civil_from_days(z, &y, &m, &d);
    memcpy(buf, days[wday], 3);
    memcpy(buf + 3, ", ", 2);
    put_digits(buf + 5, d, 2);
    buf[7] = ' ';
    memcpy(buf + 8, months[m - 1], 3);
    buf[11] = ' ';
    put_digits(buf + 12, y, 4);
    buf[16] = ' ';
    put_digits(buf + 17, secs / 3600, 2);
    buf[19] = ':';
    put_digits(buf + 20, secs / 60 % 60, 2);
    buf[22] = ':';
    put_digits(buf + 23, secs % 60, 2);
    memcpy(buf + 25, " GMT", 5);
}
