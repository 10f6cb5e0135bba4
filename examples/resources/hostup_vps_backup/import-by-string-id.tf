# Terraform 1.5+: adopt an existing backup with an import block, then `terraform apply`.
# The id is "<vps_id>/<backup_id>". Set `note` to the backup's note as HostUp shows it:
# a different note would plan a replacement (a new backup).
import {
  to = hostup_vps_backup.pre_upgrade
  id = "vps_01j9k2db000000000000000001/bkp_01j9k2db200000000000000001"
}

resource "hostup_vps_backup" "pre_upgrade" {
  vps_id = "vps_01j9k2db000000000000000001"
  note   = "Before upgrade"
}
