"""PJLink (JBMIA Class 1 and Class 2): codec, asyncio session, poller and UDP discovery."""
