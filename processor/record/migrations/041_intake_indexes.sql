-- Frozen: never edit a released migration; add a new numbered file instead.
-- Indexes for what intake reads while it records each form: a unit's arrivals, including those
-- dropped in its folder (files.folder_unit), and every unit's accepted forms of the form's month,
-- which were otherwise found by reading every row of the table.
CREATE INDEX idx_files_folder_unit ON files(folder_unit);
CREATE INDEX idx_files_month ON files(month, status, unit);
