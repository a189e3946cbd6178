-- Frozen: never edit a released migration; add a new numbered file instead.
-- What each output was built from, so that the nightly run rebuilds an earlier period when its
-- inputs changed (a late or corrected form) and leaves it alone otherwise; and, for a version
-- written because of such a change, the sentence the report mail says about it.
ALTER TABLE outputs ADD COLUMN sources_hash TEXT;  -- digest of the output's source files (id, status, sha256, ...)
ALTER TABLE outputs ADD COLUMN update_note TEXT;   -- e.g. 2026年10月月度汇总报告已按鼓山区10月更正报表重新生成
