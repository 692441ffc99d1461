"""Scrapy settings of the crawler: polite by default, every value set on purpose.

``crawler.run.crawl`` starts from these and overrides the few that a ``CrawlConfig`` (CLI
options, sources file) changes: delay, concurrency, user agent, size limit, timeout.
Docs: https://docs.scrapy.org/en/latest/topics/settings.html
"""

BOT_NAME = "aesthetics-search"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Who we are: a clear name and a page explaining the crawler (overridable per crawl).
CONTACT_URL = "https://github.com/aesthetics-search/aesthetics-search#crawler"
USER_AGENT = f"aesthetics-search/0.1 (+{CONTACT_URL})"

# robots.txt is obeyed, parsed with Protego (supports wildcards and Sitemap: lines).
ROBOTSTXT_OBEY = True
ROBOTSTXT_PARSER = "scrapy.robotstxt.ProtegoRobotParser"
# Its Crawl-delay is a floor on the gap between two requests to that site
# (crawler.middlewares.CrawlDelayMiddleware), capped: a site asking for hours between
# requests is crawled at this pace instead (an INFO log line says so).
ROBOTSTXT_CRAWL_DELAY_MAX = 60.0
# Random jitter of a slot paced by Crawl-delay: at most ±20%, and the delay set so that the
# shortest gap is still the Crawl-delay (a gap of 1 s asked: 1.0 to 1.5 s, 1.25 s on average).
ROBOTSTXT_CRAWL_DELAY_JITTER = 0.2

# Politeness: a few parallel requests per site, a base delay, AutoThrottle adapting to the
# server's latency. Tests and the benchmark pass delay=0 and switch AutoThrottle off.
CONCURRENT_REQUESTS = 16
# Each response yields at most a page item and its links, and our store pipeline is
# synchronous: Scrapy's default of 100 concurrent item workers only costs ~100 asyncio tasks
# per response (a third of the crawl's CPU in a profile of a local 1,000-page crawl).
CONCURRENT_ITEMS = 1
# Scrapy re-reads and tokenizes the spider's source on every response to warn about
# generators that return values; our callbacks don't, so the check is pure overhead.
WARN_ON_GENERATOR_RETURN_VALUE = False
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.5  # ±50% around the delay, so requests do not tick like a clock
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

# Failures: retry server errors and timeouts a few times, waiting longer before each retry
# (RetryBackoffMiddleware), then record the page as failed.
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_BACKOFF_BASE = 1.0  # seconds before the first retry; doubles for each further one
RETRY_BACKOFF_MAX = 30.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024  # also caps decompressed size: a gzip bomb stops here
DOWNLOAD_WARNSIZE = 0
REDIRECT_MAX_TIMES = 10

# Every status reaches the spider so 404/410 and given-up 5xx are recorded, not dropped.
HTTPERROR_ALLOW_ALL = True

# Breadth-first: shallow pages (home, listings) before deep ones; traps stay shallow.
DEPTH_LIMIT = 0  # our own depth limit lives in the spider (per source)
DEPTH_PRIORITY = 0  # requests carry priority = -depth themselves
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"

# The frontier in the corpus replaces Scrapy's in-memory fingerprint set and JOBDIR.
DUPEFILTER_CLASS = "crawler.middlewares.FrontierDupeFilter"

# Cookies identify visitors; articles don't need them.
COOKIES_ENABLED = False
# No consoles: a crawl opens no listening port (telnet, remote-control HTTP).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
COMPRESSION_ENABLED = True  # gzip / deflate / br (br needs brotli installed)

DOWNLOADER_MIDDLEWARES = {
    # scope and extension checks run before robots.txt so skipped URLs cost no request
    "crawler.middlewares.ScopeMiddleware": 50,
    # next to Scrapy's RobotsTxtMiddleware (100), which announces each parsed robots.txt
    "crawler.middlewares.CrawlDelayMiddleware": 101,
    "crawler.middlewares.RetryBackoffMiddleware": 540,
    "crawler.middlewares.ConditionalGetMiddleware": 560,
}
ITEM_PIPELINES = {
    "crawler.pipelines.StorePipeline": 300,
}

# Crawl-specific tunables (read by the spider and pipeline, not by Scrapy).
DEFAULT_MAX_DEPTH = 10  # link hops from a start URL or sitemap entry
MAX_QUERY_VARIANTS = 50  # distinct query strings per path before it counts as a trap
MAX_TEMPLATE_VARIANTS = 1000  # distinct URLs per numeric path template (/cal/2024/#/#)
HTML_TYPES = ("text/html", "application/xhtml+xml")

LOG_LEVEL = "WARNING"
LOG_INSTALL_ROOT_HANDLER = True
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
