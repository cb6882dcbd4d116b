"""security groups, routers, floating IPs, agents

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:12:40.043289
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('address_scopes',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.String(length=20), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('ip_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_address_scopes'))
    )
    with op.batch_alter_table('address_scopes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_address_scopes_project_id'), ['project_id'], unique=False)

    op.create_table('agents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agent_type', sa.String(length=255), nullable=False),
    sa.Column('binary', sa.String(length=255), nullable=False),
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.String(length=20), nullable=False),
    sa.Column('heartbeat_timestamp', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('configurations', sa.Text(), nullable=False),
    sa.Column('resources_synced', sa.Boolean(), nullable=True),
    sa.Column('load', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('agent_type', 'host', name=op.f('uq_agents_agent_type_host'))
    )
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agents_host'), ['host'], unique=False)

    op.create_table('securitygroups',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.String(length=20), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('stateful', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_securitygroups'))
    )
    with op.batch_alter_table('securitygroups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_securitygroups_project_id'), ['project_id'], unique=False)

    op.create_table('default_security_group',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['security_group_id'], ['securitygroups.id'], name=op.f('fk_default_security_group_security_group_id_securitygroups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_default_security_group'))
    )
    op.create_table('networkdhcpagentbindings',
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('dhcp_agent_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['dhcp_agent_id'], ['agents.id'], name=op.f('fk_networkdhcpagentbindings_dhcp_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_networkdhcpagentbindings_network_id_networks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('network_id', 'dhcp_agent_id', name=op.f('pk_networkdhcpagentbindings'))
    )
    op.create_table('securitygrouprules',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.String(length=20), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.Column('remote_group_id', sa.String(length=36), nullable=True),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('ethertype', sa.String(length=8), nullable=False),
    sa.Column('protocol', sa.String(length=40), nullable=True),
    sa.Column('port_range_min', sa.Integer(), nullable=True),
    sa.Column('port_range_max', sa.Integer(), nullable=True),
    sa.Column('remote_ip_prefix', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['remote_group_id'], ['securitygroups.id'], name=op.f('fk_securitygrouprules_remote_group_id_securitygroups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['security_group_id'], ['securitygroups.id'], name=op.f('fk_securitygrouprules_security_group_id_securitygroups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_securitygrouprules'))
    )
    with op.batch_alter_table('securitygrouprules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_securitygrouprules_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_securitygrouprules_remote_group_id'), ['remote_group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_securitygrouprules_security_group_id'), ['security_group_id'], unique=False)

    op.create_table('routers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.String(length=20), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('gw_port_id', sa.String(length=36), nullable=True),
    sa.Column('enable_snat', sa.Boolean(), nullable=False),
    sa.Column('routes', sa.Text(), nullable=False),
    sa.Column('availability_zone_hints', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['gw_port_id'], ['ports.id'], name=op.f('fk_routers_gw_port_id_ports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routers'))
    )
    with op.batch_alter_table('routers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routers_project_id'), ['project_id'], unique=False)

    op.create_table('floatingips',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.String(length=20), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    sa.Column('floating_ip_address', sa.String(length=64), nullable=False),
    sa.Column('floating_network_id', sa.String(length=36), nullable=False),
    sa.Column('floating_port_id', sa.String(length=36), nullable=False),
    sa.Column('fixed_port_id', sa.String(length=36), nullable=True),
    sa.Column('fixed_ip_address', sa.String(length=64), nullable=True),
    sa.Column('router_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['fixed_port_id'], ['ports.id'], name=op.f('fk_floatingips_fixed_port_id_ports')),
    sa.ForeignKeyConstraint(['floating_network_id'], ['networks.id'], name=op.f('fk_floatingips_floating_network_id_networks')),
    sa.ForeignKeyConstraint(['floating_port_id'], ['ports.id'], name=op.f('fk_floatingips_floating_port_id_ports'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['router_id'], ['routers.id'], name=op.f('fk_floatingips_router_id_routers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_floatingips')),
    sa.UniqueConstraint('floating_network_id', 'fixed_port_id', 'fixed_ip_address', name=op.f('uq_floatingips_floating_network_id_fixed_port_id_fixed_ip_address'))
    )
    with op.batch_alter_table('floatingips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_floatingips_fixed_port_id'), ['fixed_port_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_floatingips_floating_network_id'), ['floating_network_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_floatingips_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_floatingips_router_id'), ['router_id'], unique=False)

    op.create_table('routerl3agentbindings',
    sa.Column('router_id', sa.String(length=36), nullable=False),
    sa.Column('l3_agent_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['l3_agent_id'], ['agents.id'], name=op.f('fk_routerl3agentbindings_l3_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['router_id'], ['routers.id'], name=op.f('fk_routerl3agentbindings_router_id_routers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('router_id', 'l3_agent_id', name=op.f('pk_routerl3agentbindings'))
    )
    op.create_table('routerports',
    sa.Column('router_id', sa.String(length=36), nullable=False),
    sa.Column('port_id', sa.String(length=36), nullable=False),
    sa.Column('port_type', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['port_id'], ['ports.id'], name=op.f('fk_routerports_port_id_ports'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['router_id'], ['routers.id'], name=op.f('fk_routerports_router_id_routers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('port_id', name=op.f('pk_routerports'))
    )
    with op.batch_alter_table('routerports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routerports_router_id'), ['router_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('routerports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routerports_router_id'))

    op.drop_table('routerports')
    op.drop_table('routerl3agentbindings')
    with op.batch_alter_table('floatingips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_floatingips_router_id'))
        batch_op.drop_index(batch_op.f('ix_floatingips_project_id'))
        batch_op.drop_index(batch_op.f('ix_floatingips_floating_network_id'))
        batch_op.drop_index(batch_op.f('ix_floatingips_fixed_port_id'))

    op.drop_table('floatingips')
    with op.batch_alter_table('routers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routers_project_id'))

    op.drop_table('routers')
    with op.batch_alter_table('securitygrouprules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_securitygrouprules_security_group_id'))
        batch_op.drop_index(batch_op.f('ix_securitygrouprules_remote_group_id'))
        batch_op.drop_index(batch_op.f('ix_securitygrouprules_project_id'))

    op.drop_table('securitygrouprules')
    op.drop_table('networkdhcpagentbindings')
    op.drop_table('default_security_group')
    with op.batch_alter_table('securitygroups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_securitygroups_project_id'))

    op.drop_table('securitygroups')
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agents_host'))

    op.drop_table('agents')
    with op.batch_alter_table('address_scopes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_address_scopes_project_id'))

    op.drop_table('address_scopes')

