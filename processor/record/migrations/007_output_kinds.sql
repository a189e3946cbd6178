-- Frozen: never edit a released migration; add a new numbered file instead.
-- Output kinds become stable ASCII identifiers (processor/common/outputs.py); the Chinese names
-- stay only as display names and outbox folder names.
UPDATE outputs SET kind = CASE kind
    WHEN '月度汇总报告' THEN 'monthly_report'
    WHEN '半年工作报告' THEN 'half_year_report'
    WHEN '年度工作总结' THEN 'year_report'
    WHEN '分组情况一览表' THEN 'assignment_table'
    WHEN '示范点档案' THEN 'site_dossier'
    WHEN '催报名单' THEN 'reminder_list'
    WHEN '汇总数据' THEN 'summary_data'
    WHEN '图表' THEN 'chart'
    WHEN '总览' THEN 'overview'
    ELSE kind END;
