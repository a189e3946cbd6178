-- Frozen: never edit a released migration; add a new numbered file instead.
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    original_name TEXT NOT NULL,
    inbox_path TEXT NOT NULL,          -- relative to the inbox, as found
    folder_unit TEXT,                  -- unit bound by the per-unit sub-folder, if any
    size INTEGER NOT NULL,
    received_at TEXT NOT NULL,         -- ISO time the processor took the file
    status TEXT NOT NULL CHECK (status IN ('accepted','rejected','duplicate','superseded')),
    unit TEXT,
    unit_kind TEXT,
    month TEXT,
    template_version TEXT,
    model_hash TEXT,
    duplicate_of INTEGER REFERENCES files(id),
    superseded_by INTEGER REFERENCES files(id),
    replaces INTEGER REFERENCES files(id),
    error_count INTEGER NOT NULL DEFAULT 0,
    warning_count INTEGER NOT NULL DEFAULT 0,
    problems_json TEXT NOT NULL DEFAULT '[]',
    summary_json TEXT NOT NULL DEFAULT '{}',
    archive_path TEXT NOT NULL,        -- relative to the archive folder
    receipt_path TEXT,                 -- relative to the outbox; NULL until written
    annotated_path TEXT,
    inbox_removed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_files_sha ON files(sha256);
CREATE INDEX idx_files_unit_month ON files(unit, month, status);

CREATE TABLE basic_info (
    file_id INTEGER NOT NULL REFERENCES files(id),
    unit TEXT NOT NULL,
    month TEXT NOT NULL,
    row INTEGER,
    unit_kind TEXT,
    filler TEXT,
    phone TEXT,
    reviewer TEXT,
    fill_date TEXT,
    change_note TEXT
);
CREATE INDEX idx_basic_info_file ON basic_info(file_id);
CREATE INDEX idx_basic_info_unit_month ON basic_info(unit, month);

CREATE TABLE sites (
    file_id INTEGER NOT NULL REFERENCES files(id),
    unit TEXT NOT NULL,
    month TEXT NOT NULL,
    row INTEGER,
    site TEXT,
    enterprise TEXT,
    enterprise_kind TEXT,
    org_name TEXT,
    org_kind TEXT,
    formation TEXT,
    secretary TEXT,
    members INTEGER,
    employees INTEGER,
    level TEXT,
    staff TEXT,
    contact_date TEXT,
    plan_date TEXT,
    note TEXT
);
CREATE INDEX idx_sites_file ON sites(file_id);
CREATE INDEX idx_sites_unit_month ON sites(unit, month);

CREATE TABLE contacts (
    file_id INTEGER NOT NULL REFERENCES files(id),
    unit TEXT NOT NULL,
    month TEXT NOT NULL,
    row INTEGER,
    date TEXT,
    site TEXT,
    staff TEXT,
    mode TEXT,
    content TEXT,
    problem TEXT,
    suggestion TEXT,
    deadline TEXT,
    state TEXT
);
CREATE INDEX idx_contacts_file ON contacts(file_id);
CREATE INDEX idx_contacts_unit_month ON contacts(unit, month);

CREATE TABLE org_life (
    file_id INTEGER NOT NULL REFERENCES files(id),
    unit TEXT NOT NULL,
    month TEXT NOT NULL,
    row INTEGER,
    date TEXT,
    site TEXT,
    activity TEXT,
    host TEXT,
    expected INTEGER,
    present INTEGER,
    summary TEXT
);
CREATE INDEX idx_org_life_file ON org_life(file_id);
CREATE INDEX idx_org_life_unit_month ON org_life(unit, month);

CREATE TABLE hardware (
    file_id INTEGER NOT NULL REFERENCES files(id),
    unit TEXT NOT NULL,
    month TEXT NOT NULL,
    row INTEGER,
    site TEXT,
    outdoor_board TEXT,
    office_room TEXT,
    activity_room TEXT,
    room_area REAL,
    nameplate TEXT,
    party_flag TEXT,
    party_board TEXT,
    computer TEXT,
    vcd TEXT,
    tv TEXT,
    telephone TEXT,
    camera TEXT,
    audio TEXT,
    file_cabinet TEXT,
    bookcase TEXT,
    furniture TEXT
);
CREATE INDEX idx_hardware_file ON hardware(file_id);
CREATE INDEX idx_hardware_unit_month ON hardware(unit, month);

CREATE TABLE members (
    file_id INTEGER NOT NULL REFERENCES files(id),
    unit TEXT NOT NULL,
    month TEXT NOT NULL,
    row INTEGER,
    site TEXT,
    total INTEGER,
    new_members INTEGER,
    new_workers INTEGER,
    new_intellectuals INTEGER,
    activists INTEGER,
    mobile INTEGER,
    mobile_managed INTEGER,
    duty_zones INTEGER,
    cross_posts INTEGER,
    six_ones INTEGER,
    mutual_fund REAL
);
CREATE INDEX idx_members_file ON members(file_id);
CREATE INDEX idx_members_unit_month ON members(unit, month);

CREATE TABLE progress (
    file_id INTEGER NOT NULL REFERENCES files(id),
    unit TEXT NOT NULL,
    month TEXT NOT NULL,
    row INTEGER,
    site TEXT,
    progress TEXT,
    issues TEXT,
    next_plan TEXT
);
CREATE INDEX idx_progress_file ON progress(file_id);
CREATE INDEX idx_progress_unit_month ON progress(unit, month);
