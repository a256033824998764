//! Sending a finished report to a code review server. Today one target: Bitbucket Server /
//! Data Center Code Insights ([`bitbucket`]). Nothing here decides anything about the run; it
//! only delivers what a reporter in `report/` wrote.

pub mod bitbucket;
